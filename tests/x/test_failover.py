"""Two `tribune serve` processes on PostgreSQL, one X stream: exactly one of them leads it.
Kill the leader (SIGKILL, mid-stream): the other takes over within 10 s, and every post
published meanwhile is stored exactly once."""

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.accounts.models import Role
from app.db import make_engine, make_sessionmaker
from app.ingest.models import IngestSource, Post
from app.ingest.runner import lease_name
from app.ops import service as ops
from app.questions.models import Question
from tests.conftest import TEST_SECRET, Actor, _free_port, make_actor
from tests.x.conftest import Sandbox, message, wait_until
from tests.x.test_stream import make_show

pytestmark = pytest.mark.postgres
log = logging.getLogger(__name__)


class Worker:
    """``tribune serve`` in its own process: killable like a crashed host."""

    def __init__(self, database_url: str, sandbox: Sandbox, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUNE_")}
        env.update(
            TRIBUNE_DATABASE_URL=database_url,
            TRIBUNE_SECRET_KEY=TEST_SECRET,
            TRIBUNE_X_API_BASE_URL=sandbox.url,
            TRIBUNE_X_BEARER_TOKEN="sandbox-bearer",  # the sandbox's
            TRIBUNE_X_BACKOFF_SCALE="0.01",
            TRIBUNE_LOG_LEVEL="WARNING",
        )
        self.log = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603  # our own command, fixed arguments
            [sys.executable, "-m", "app", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            assert self.process.poll() is None, "tribune serve exited"
            try:
                if httpx.get(f"{self.url}/api/v1/csrf", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tribune serve did not start"
            time.sleep(0.1)

    @property
    def name_suffix(self) -> str:
        return f":{self.process.pid}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def two_workers(
    migrated_pg: str, sandbox: Sandbox, tmp_path: Path
) -> Iterator[tuple[Worker, Worker]]:
    workers = (
        Worker(migrated_pg, sandbox, tmp_path / "a.log"),
        Worker(migrated_pg, sandbox, tmp_path / "b.log"),
    )
    try:
        for worker in workers:
            worker.wait_ready()
        yield workers
    finally:
        for worker in workers:
            worker.stop()


async def test_the_stream_fails_over_within_ten_seconds_with_every_post_once(
    migrated_pg: str, sandbox: Sandbox, two_workers: tuple[Worker, Worker]
) -> None:
    engine = make_engine(migrated_pg)
    maker = make_sessionmaker(engine)
    try:
        admin: Actor = await make_actor(maker, "ada", Role.admin)
        a, b = two_workers
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
            await make_show(http, admin)
            added = await http.post(
                "/api/v1/events/ask-test/sources",
                json={"kind": "x-stream"},
                headers=admin.headers,
            )
            assert added.status_code == 201, added.text
            source_id = added.json()["id"]

        async def leader() -> str | None:
            async with maker() as session:
                holder = await ops.holder_of(session, lease_name(source_id))
                status = await session.scalar(
                    select(IngestSource.status).where(IngestSource.id == source_id)
                )
            return holder if status == "connected" else None

        first = await wait_until(leader, within=20)
        await wait_until(lambda: sandbox.stats()["open_streams"] == 1)
        dead, survivor = (a, b) if first.endswith(a.name_suffix) else (b, a)
        assert first.endswith(dead.name_suffix)

        # Posts keep coming all through the failover: 5 every 100 ms.
        published = 0
        stop = threading.Event()

        def publish() -> None:
            nonlocal published
            while not stop.is_set():
                sandbox.publish([message(published + i) for i in range(5)])
                published += 5
                time.sleep(0.1)

        publisher = threading.Thread(target=publish)
        publisher.start()
        try:
            await asyncio.sleep(1)
            killed_at = time.monotonic()
            dead.kill()

            async def taken_over() -> bool:
                holder = await leader()
                return holder is not None and holder.endswith(survivor.name_suffix)

            await wait_until(taken_over, within=15, every=0.05)
            takeover = time.monotonic() - killed_at
            await asyncio.sleep(1)
        finally:
            stop.set()
            publisher.join()
        log.info("the survivor took over %.2f s after the kill", takeover)
        assert takeover < 10, f"the survivor took over after {takeover:.1f} s"

        async def stored() -> int:
            async with maker() as session:
                return int(await session.scalar(select(func.count()).select_from(Post)) or 0)

        async def all_stored() -> bool:
            return await stored() >= published

        await wait_until(all_stored, within=30)
        async with maker() as session:
            posts = await session.scalar(select(func.count(func.distinct(Post.external_id))))
            questions = await session.scalar(select(func.count()).select_from(Question))
        log.info(
            "%d posts published during the run, %d stored, %d questions",
            published,
            posts,
            questions,
        )
        assert (await stored(), posts, questions) == (published, published, published)
    finally:
        await engine.dispose()
