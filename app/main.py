"""The FastAPI application. ``create_app`` builds it; nothing connects at import."""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.accounts.router import router as accounts_router
from app.charter.router import router as charter_router
from app.complaints.router import router as complaints_router
from app.config import Settings, get_settings
from app.db import Notifier, make_engine, make_sessionmaker
from app.errors import install_error_handlers
from app.events.router import router as events_router
from app.heap import settle_heap
from app.ingest.router import router as ingest_router
from app.ingest.runner import Runner
from app.logs import configure_logging
from app.ops.router import Metrics
from app.ops.router import router as ops_router
from app.paths import STATIC_DIR
from app.publishing.worker import PublishingWorker
from app.questions.router import router as questions_router
from app.realtime.bus import RedisBus
from app.realtime.hub import Hub
from app.realtime.router import router as realtime_router
from app.security import BodyLimit, LoginLimits, SecurityHeaders, SlidingWindow
from app.serving import SERVE_SOURCES_ENV
from app.triage.router import router as triage_router
from app.triage.stage import TriageStage
from app.web.router import router as web_router

BackgroundJob = Callable[[FastAPI], Coroutine[Any, Any, None]]


def create_app(
    settings: Settings | None = None,
    *,
    run_sources: bool = True,
    run_triage: bool | None = None,
    background: Sequence[BackgroundJob] = (),
) -> FastAPI:
    """The Tribune app. ``run_sources`` starts the configured ingest sources with it, and the
    triage stage unless ``run_triage`` says otherwise; ``background`` jobs run beside it (the
    demo's autopilot) and are cancelled at shutdown."""
    settings = settings or get_settings()
    settings.check_production_ready()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.secret_values(), settings.log_format)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_sessionmaker = make_sessionmaker(engine, readonly=True)
        hub = Hub(
            app.state.read_sessionmaker,
            queue_size=settings.ws_queue_size,
            poll_seconds=settings.poll_seconds,
        )
        app.state.hub = hub
        # What transactions tell after commit: this worker's hub, and through Redis the others'.
        notifier: Notifier = hub
        bus: RedisBus | None = None
        if settings.redis_url:
            bus = RedisBus(settings.redis_url, settings.redis_channel, hub)
            await bus.start()
            notifier = bus
        app.state.bus = bus
        app.state.notifier = notifier
        runner = Runner(app.state.sessionmaker, notifier, settings)
        app.state.runner = runner
        if run_sources:
            await runner.start()
        # Every new question's category, language, group and rules, after it is stored: in one
        # worker of the deployment (the lease holder), as the sources.
        stage = TriageStage(app.state.sessionmaker, app.state.read_sessionmaker, notifier)
        app.state.triage_stage = stage
        if run_sources if run_triage is None else run_triage:
            await stage.start()
        jobs = [asyncio.create_task(job(app)) for job in background]
        if settings.x_credentials().can_post:
            worker = PublishingWorker(
                app.state.sessionmaker,
                notifier,
                settings.x_credentials(),
                settings.x_api_base_url,
                backoff_scale=settings.x_backoff_scale,
                post_url=settings.x_post_url,
            )
            jobs.append(asyncio.create_task(worker.run(), name="tribune-publishing"))
        settle_heap()
        try:
            yield
        finally:
            for task in jobs:
                task.cancel()
            for task in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await stage.stop()
            await runner.stop()
            if bus is not None:
                await bus.close()
            await hub.close()
            await engine.dispose()

    app = FastAPI(
        title="Tribune",
        summary="Live Q&A relay for hosted executive chats.",
        version="0.1.0",
        lifespan=lifespan,
        # Tribune's metrics are Prometheus (/metrics) and its logs its own. FastAPI's native
        # OpenTelemetry looks for a configured provider on every request and socket (reading
        # the environment each time): a twentieth of a socket's set-up in a reconnect storm.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Outermost first: the body cap refuses before anything reads; headers go on everything.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit)
    app.state.audience_limiter = SlidingWindow(settings.audience_questions_per_minute, 60)
    app.state.login_limits = LoginLimits()
    app.state.metrics = Metrics()
    for router in (
        accounts_router,
        events_router,
        questions_router,
        charter_router,
        complaints_router,
        ingest_router,
        triage_router,
        realtime_router,
        web_router,
        ops_router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def worker_app() -> FastAPI:
    """One worker of `tribune serve --workers N` (uvicorn imports it in each process)."""
    return create_app(run_sources=os.environ.get(SERVE_SOURCES_ENV, "1") == "1")
