"""Liveness, readiness and metrics, as a load balancer and Prometheus see them; JSON logs."""

import json
import logging
from typing import Any

import httpx

from app.config import Settings
from app.logs import RedactingFilter, formatter_for
from app.main import create_app
from tests.conftest import Actor, LiveServer, ask, serve_in_thread
from tests.wsclient import Channel


async def test_healthz_and_readyz_on_the_embedded_default(
    http: httpx.AsyncClient, live_event: dict[str, Any]
) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert ":" in health.json()["worker"]  # host:pid
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["ready"] is True
    assert body["database"]["ok"] is True
    assert body["redis"] == {"ok": True, "detail": "not configured: in-process fan-out"}


async def test_readyz_says_503_when_redis_is_unreachable(settings: Settings) -> None:
    # A port nothing listens on: the fan-out cannot work, so this worker must not get traffic.
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    with serve_in_thread(create_app(broken, run_sources=False)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            ready = await http.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert (body["ready"], body["database"]["ok"], body["redis"]["ok"]) == (False, True, False)


async def test_metrics_count_connections_updates_and_the_outbox(
    http: httpx.AsyncClient, live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    for i in range(3):
        await ask(http, f"Question {i}")
    url = f"{live_server.ws_url}/ws/events/ask-test/public?after=0"
    async with Channel(url) as public:
        assert (await public.recv())["type"] == "hello"
        text = (await http.get("/metrics")).text
    assert 'tribune_connections{channel="public"} 1.0' in text
    assert 'tribune_connections{channel="moderation"} 0.0' in text
    assert 'tribune_updates{live_event="ask-test"} 3.0' in text
    assert 'tribune_outbox_deliveries{status="pending"} 0.0' in text
    assert "tribune_delivery_failures 0.0" in text


def test_json_log_lines_carry_the_worker_and_no_secret() -> None:
    RedactingFilter.secrets.add("super-secret-bearer-value")
    record = logging.LogRecord(
        "tribune.test",
        logging.WARNING,
        __file__,
        1,
        "token %s refused",
        ("super-secret-bearer-value",),
        None,
    )
    RedactingFilter().filter(record)
    line = json.loads(formatter_for("json").format(record))
    assert line["level"] == "WARNING"
    assert line["logger"] == "tribune.test"
    assert line["message"] == "token [redacted] refused"
    assert ":" in line["worker"]
