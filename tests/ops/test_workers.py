"""`tribune serve --workers 2` on PostgreSQL and Redis: two processes serve, and a change made
through either reaches a socket held by either."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.accounts.models import Role
from app.db import make_engine, make_sessionmaker
from tests.conftest import TEST_SECRET, _free_port, make_actor, staff_everyone
from tests.wsclient import Channel

pytestmark = pytest.mark.postgres

# The machine's Redis (.ci/run starts it when it is down).
REDIS_URL = os.environ.get("TRIBUNE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def served(migrated_pg: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUNE_")}
    env.update(
        TRIBUNE_DATABASE_URL=migrated_pg,
        TRIBUNE_SECRET_KEY=TEST_SECRET,
        TRIBUNE_REDIS_URL=REDIS_URL,
        TRIBUNE_REDIS_CHANNEL=f"tribune-test:{uuid.uuid4().hex}",
        TRIBUNE_LOG_LEVEL="WARNING",
    )
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(  # noqa: S603  # our own command, fixed arguments
            [sys.executable, "-m", "app", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "tribune serve --workers 2 did not start"
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(20)


async def test_two_workers_serve_and_share_updates(migrated_pg: str, served: str) -> None:
    # Each new connection lands on either process: both answer.
    workers: set[str] = set()
    deadline = time.monotonic() + 20
    while len(workers) < 2 and time.monotonic() < deadline:
        async with httpx.AsyncClient(base_url=served) as fresh:
            workers.add((await fresh.get("/healthz")).json()["worker"])
    assert len(workers) == 2, workers

    engine = make_engine(migrated_pg)
    maker = make_sessionmaker(engine)
    try:
        admin = await make_actor(maker, "ada", Role.admin)
        async with httpx.AsyncClient(base_url=served, timeout=10) as http:
            created = await http.post(
                "/api/v1/events",
                json={"slug": "ask-test", "title": "Ask", "hashtag": "AskTest"},
                headers=admin.headers,
            )
            assert created.status_code == 201, created.text
        await staff_everyone(maker)
        ws_url = served.replace("http://", "ws://") + "/ws/events/ask-test/public?after=0"
        # Sockets on both workers (new connections spread over the two processes).
        channels = [Channel(ws_url) for _ in range(6)]
        for channel in channels:
            await channel.__aenter__()
            assert (await channel.recv())["type"] == "hello"
        try:
            for i in range(3):
                async with httpx.AsyncClient(base_url=served, timeout=10) as http:
                    asked = await http.post(
                        "/api/v1/events/ask-test/questions",
                        json={"text": f"On air from any worker {i}"},
                        headers=admin.headers,
                    )
                    question = asked.json()
                    for action in ("approve", "on-air"):
                        done = await http.post(
                            f"/api/v1/questions/{question['id']}/{action}", headers=admin.headers
                        )
                        assert done.status_code == 200, done.text
            async with httpx.AsyncClient(base_url=served, timeout=10) as http:
                last = int((await http.get("/api/v1/events/ask-test")).json()["last_seq"])
            for channel in channels:
                seen = await channel.updates_until(last, within=10)
                on_air = [m["question"]["text"] for m in seen if m["type"] == "question"]
                assert on_air[-1] == "On air from any worker 2"
        finally:
            for channel in channels:
                await channel.__aexit__(None, None, None)
    finally:
        await engine.dispose()
