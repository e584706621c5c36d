"""Operations: liveness, readiness and Prometheus metrics, for load balancers and monitoring.

They carry counts and states, never content or secrets; keep /metrics on the private network
all the same (the proxy in front of Tribune should not route it)."""

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from app.db import SessionDep
from app.ops import service
from app.ops.schemas import Check, Health, Readiness
from app.realtime.bus import RedisBus
from app.realtime.hub import Hub

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> Health:
    """Liveness: the process answers (nothing else is checked)."""
    return Health(status="ok", worker=service.worker_name())


@router.get("/readyz", responses={503: {"model": Readiness, "description": "Not ready."}})
async def readyz(request: Request, response: Response, session: SessionDep) -> Readiness:
    """Readiness: the database answers, and Redis too when it carries the fan-out; 503 if not.
    Lists the enabled sources with their state and the worker running each."""
    database = await service.database_check(session)
    bus: RedisBus | None = request.app.state.bus
    if bus is None:
        redis = Check(ok=True, detail="not configured: in-process fan-out")
    else:
        redis = Check(ok=await bus.ping(), detail="" if bus.connected else "subscription down")
    sources = await service.source_states(session) if database.ok else []
    ready = database.ok and redis.ok
    if not ready:
        response.status_code = 503
    return Readiness(
        ready=ready, worker=service.worker_name(), database=database, redis=redis, sources=sources
    )


class Metrics:
    """One registry per app (several apps may share a process, in tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge(
            "tribune_connections",
            "Open sockets on this worker.",
            ["channel"],
            registry=self.registry,
        )
        self.updates = Gauge(
            "tribune_updates",
            "Updates written per LiveEvent (its last seq); rate() gives updates/s.",
            ["live_event"],
            registry=self.registry,
        )
        self.outbox = Gauge(
            "tribune_outbox_deliveries",
            "Deliveries not yet settled.",
            ["status"],
            registry=self.registry,
        )
        self.failures = Gauge(
            "tribune_delivery_failures",
            "Deliveries that failed for good.",
            registry=self.registry,
        )
        self.ingest_lag = Gauge(
            "tribune_ingest_lag_seconds",
            "From the newest post's time on the network to its storage.",
            ["live_event"],
            registry=self.registry,
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, session: SessionDep) -> Response:
    """Prometheus metrics, in its text format."""
    gauges: Metrics = request.app.state.metrics
    hub: Hub = request.app.state.hub
    for channel, count in hub.connection_counts().items():
        gauges.connections.labels(channel.value).set(count)
    figures = await service.figures(session)
    for slug, seq in figures.updates.items():
        gauges.updates.labels(slug).set(seq)
    for status in service.UNSETTLED:
        gauges.outbox.labels(status.value).set(figures.outbox.get(str(status), 0))
    gauges.failures.set(figures.delivery_failures)
    for slug, lag in figures.ingest_lag.items():
        gauges.ingest_lag.labels(slug).set(lag)
    return Response(generate_latest(gauges.registry), media_type=CONTENT_TYPE_LATEST)
