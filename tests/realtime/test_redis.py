"""Several workers on PostgreSQL and a real Redis: an update written through one worker reaches
clients on another, and a Redis restart mid-event loses nothing.

Each test runs its own redis-server (a real one, on a free port) so that it can stop and start
it; the database is a throwaway one on the machine's PostgreSQL.
"""

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from app import migrate
from app.accounts.models import Role
from app.config import Settings
from app.db import Committed, LoggedUpdate, make_engine, make_sessionmaker
from app.main import create_app
from app.realtime.bus import CARRY_CHARS, RedisBus, _message
from app.realtime.hub import Hub
from tests.conftest import (
    TEST_SECRET,
    Actor,
    LiveServer,
    _free_port,
    make_actor,
    serve_in_thread,
    staff_everyone,
)
from tests.wsclient import SYSTEM_TYPES, Channel
from tests.x.conftest import wait_until

pytestmark = pytest.mark.postgres


class RedisServer:
    """A real redis-server on 127.0.0.1, which the test may stop and start again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (.ci/run checks that Redis is installed)"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.process = subprocess.Popen(  # noqa: S603  # our own argv, no shell
            [*argv, "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not self._pong():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shared_settings(pg_database: str, redis_server: RedisServer) -> Settings:
    migrate.upgrade(pg_database)
    return Settings(
        database_url=pg_database,
        redis_url=redis_server.url,
        redis_channel=f"tribune-test:{uuid.uuid4().hex}",
        secret_key=SecretStr(TEST_SECRET),
        audience_questions_per_minute=10_000,
        heartbeat_seconds=0.5,
        # Feeds poll the log only every 30 s: an update that arrives sooner came through Redis.
        poll_seconds=30,
        _env_file=None,
    )


@pytest.fixture
def workers(shared_settings: Settings) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two workers, each its own app and event loop, sharing only PostgreSQL and Redis."""
    with ExitStack() as stack:
        a = stack.enter_context(serve_in_thread(create_app(shared_settings, run_sources=False)))
        b = stack.enter_context(serve_in_thread(create_app(shared_settings, run_sources=False)))
        yield a, b


@pytest.fixture
async def team(shared_settings: Settings) -> AsyncIterator[dict[str, Actor]]:
    engine = make_engine(shared_settings.database_url)
    maker = make_sessionmaker(engine)
    actors = {
        "admin": await make_actor(maker, "ada", Role.admin),
        "moderator": await make_actor(maker, "mo", Role.moderator),
    }
    yield actors
    await engine.dispose()


async def open_show(http: httpx.AsyncClient, admin: Actor, shared_settings: Settings) -> None:
    created = await http.post(
        "/api/v1/events",
        json={"slug": "ask-test", "title": "Ask Test", "hashtag": "AskTest"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    engine = make_engine(shared_settings.database_url)
    try:
        await staff_everyone(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def bus_connected(server: LiveServer) -> bool:
    app: Any = server.server.config.app
    return bool(app.state.bus is not None and app.state.bus.connected)


async def test_an_update_through_worker_a_reaches_clients_on_worker_b(
    workers: tuple[LiveServer, LiveServer], team: dict[str, Actor], shared_settings: Settings
) -> None:
    a, b = workers
    admin, moderator = team["admin"], team["moderator"]
    await wait_until(lambda: bus_connected(a) and bus_connected(b), within=10)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as on_a:
        await open_show(on_a, admin, shared_settings)
        asked = await on_a.post(
            "/api/v1/events/ask-test/questions", json={"text": "Through A?"}, headers=admin.headers
        )
        question = asked.json()
        async with (
            Channel(f"{b.ws_url}/ws/events/ask-test/moderation?after=0", moderator.token) as mod,
            Channel(f"{b.ws_url}/ws/events/ask-test/public?after=0") as public,
        ):
            assert (await mod.recv())["type"] == "hello"
            assert (await public.recv())["type"] == "hello"
            started = time.monotonic()
            approved = await on_a.post(
                f"/api/v1/questions/{question['id']}/approve", headers=moderator.headers
            )
            assert approved.status_code == 200, approved.text
            seen = await mod.updates_until(2, within=5)
            assert seen[-1]["question"]["status"] == "approved"
            on_air = await on_a.post(
                f"/api/v1/questions/{question['id']}/on-air", headers=moderator.headers
            )
            assert on_air.status_code == 200, on_air.text
            public_seen = await public.updates_until(3, within=5)
            assert public_seen[-1]["question"]["status"] == "on_air"
            # Well inside the 30 s poll: Redis carried it.
            assert time.monotonic() - started < 5


async def test_a_redis_restart_mid_event_loses_no_update(
    workers: tuple[LiveServer, LiveServer],
    team: dict[str, Actor],
    shared_settings: Settings,
    redis_server: RedisServer,
) -> None:
    a, b = workers
    admin, moderator = team["admin"], team["moderator"]
    await wait_until(lambda: bus_connected(a) and bus_connected(b), within=10)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as on_a:
        await open_show(on_a, admin, shared_settings)
        url = f"{b.ws_url}/ws/events/ask-test/moderation?after=0"
        async with Channel(url, moderator.token) as on_b:
            assert (await on_b.recv())["type"] == "hello"

            async def ask_some(prefix: str, n: int) -> None:
                for i in range(n):
                    response = await on_a.post(
                        "/api/v1/events/ask-test/questions",
                        json={"text": f"{prefix} {i}"},
                        headers=admin.headers,
                    )
                    assert response.status_code == 201, response.text

            await ask_some("before", 5)
            await on_b.updates_until(5, within=5)
            redis_server.stop()
            await wait_until(lambda: not bus_connected(b), within=10)
            # Written while Redis is down: worker A still serves and stores everything.
            await ask_some("during", 10)
            redis_server.start()
            await wait_until(lambda: bus_connected(a) and bus_connected(b), within=15)
            await ask_some("after", 5)
            last = int((await on_a.get("/api/v1/events/ask-test")).json()["last_seq"])
            assert last == 20
            await on_b.updates_until(last, within=10)
            seqs = [
                message["seq"] for message in on_b.messages if message["type"] not in SYSTEM_TYPES
            ]
            assert seqs == list(range(1, last + 1)), "every update once, in order"


class HandedHub(Hub):
    """A hub with no feeds that records what it was handed after commits, in order."""

    def __init__(self) -> None:
        self.handed: list[tuple[int, list[LoggedUpdate]]] = []

    def notify(self, committed: Committed) -> None:
        self.handed.extend((key, list(updates)) for key, updates in committed.items())

    def notify_all(self) -> None:
        pass  # on (re)subscribing: not what this test is about


def logged(seq: int, size: int = 10) -> LoggedUpdate:
    return LoggedUpdate(seq, f'{{"seq":{seq},"text":"{"é" * size}"}}', None, f'{{"seq":{seq}}}')


async def test_a_worker_hands_its_commits_to_its_feeds_once_and_to_the_others_through_redis(
    redis_server: RedisServer,
) -> None:
    # Its own message comes back to a worker through its subscription; handing it to its
    # feeds again would be for nothing. The others get the updates as written, so that no
    # worker reads them back from the log; a commit too big to carry names its LiveEvent.
    channel = f"tribune-test:{uuid.uuid4().hex}"
    hubs = [HandedHub(), HandedHub()]
    buses = [RedisBus(redis_server.url, channel, hub) for hub in hubs]
    for bus in buses:
        await bus.start()
    try:
        await wait_until(lambda: all(bus.connected for bus in buses), within=10)
        buses[0].notify({7: [logged(1), logged(2)]})
        assert hubs[0].handed == [], "the others first: its own fan-out would hold them up"
        await wait_until(lambda: len(hubs[0].handed) == 1, within=1)
        assert hubs[0].handed == [(7, [logged(1), logged(2)])], "then its own feeds, once"
        await wait_until(lambda: len(hubs[1].handed) == 1, within=5)
        assert hubs[1].handed == [(7, [logged(1), logged(2)])], "the others: as written"
        big = [logged(seq, size=CARRY_CHARS // 4) for seq in range(3, 8)]
        buses[1].notify({8: big})
        # Redis delivers one channel's messages in order: by the time worker A hears B's 8,
        # it has heard its own 7 too.
        await wait_until(lambda: len(hubs[0].handed) == 2, within=5)
        assert hubs[0].handed[1] == (8, []), "too big to carry: read the log"
        assert hubs[1].handed == [(7, [logged(1), logged(2)]), (8, big)]
        # Two commits in one tick, one message: one of them handed nothing over (a savepoint's
        # updates), so the others read the log for both.
        buses[1].notify({9: [logged(8)]})
        buses[1].notify({9: []})
        await wait_until(lambda: len(hubs[0].handed) == 3, within=5)
        assert hubs[0].handed[2] == (9, [])
    finally:
        for bus in buses:
            await bus.close()


async def test_a_worker_of_the_earlier_version_or_a_stray_message_costs_no_update(
    redis_server: RedisServer,
) -> None:
    # Mid-upgrade, workers of the earlier version and of this one share the channel. Theirs
    # name LiveEvents without updates ("<origin>|ids"), and they read ours the same way (the
    # ids come last): the feeds read the log. Updates that are not what a bus sends are not
    # sent on; anything else on the channel is ignored, and the subscription goes on.
    channel = f"tribune-test:{uuid.uuid4().hex}"
    hub = HandedHub()
    bus = RedisBus(redis_server.url, channel, hub)
    await bus.start()
    other = Redis.from_url(redis_server.url)
    try:
        await wait_until(lambda: bus.connected, within=10)
        await other.publish(channel, "0123abcd|9,10")
        await other.publish(channel, '{"11": [["1", "m", null, null]]}|x|11')
        await other.publish(channel, "{not json|y|12")
        await other.publish(channel, "hello")
        sender = RedisBus(redis_server.url, channel, HandedHub())
        await sender.start()
        try:
            await wait_until(lambda: sender.connected, within=10)
            sender.notify({13: [logged(1)]})
            await wait_until(lambda: len(hub.handed) == 5, within=5)
        finally:
            await sender.close()
        assert hub.handed == [(9, []), (10, []), (11, []), (12, []), (13, [logged(1)])]
        assert bus.connected
        # What a worker of the earlier version reads in this version's message: the ids.
        message = _message("abc", {13: [logged(1)], 14: []})
        assert message.rpartition("|")[2] == "13,14"
    finally:
        await other.aclose()
        await bus.close()
