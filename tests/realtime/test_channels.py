"""The update log over real sockets: resume, ordering, channel visibility, heartbeats."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.events.models import LiveEvent
from app.questions import service as questions
from app.questions.models import Origin
from app.realtime.models import Update
from tests.conftest import Actor, LiveServer, RecordingNotifier, ask
from tests.wsclient import Channel


def channel_url(server: LiveServer, name: str, after: int = 0, slug: str = "ask-test") -> str:
    return f"{server.ws_url}/ws/events/{slug}/{name}?after={after}"


async def current_seq(http: httpx.AsyncClient) -> int:
    return int((await http.get("/api/v1/events/ask-test")).json()["last_seq"])


async def test_resume_after_disconnect_gets_exactly_the_rest(
    http: httpx.AsyncClient, live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    async with Channel(channel_url(live_server, "moderation"), moderator.token) as ws:
        hello = await ws.recv()
        assert hello == {"seq": 0, "type": "hello", "channel": "moderation", "heartbeat": 0.5}
        for i in range(5):
            await ask(http, f"first batch {i}")
        first = await ws.updates_until(5)
    assert [m["seq"] for m in first] == [1, 2, 3, 4, 5]
    # While disconnected, more changes happen.
    for i in range(4):
        await ask(http, f"second batch {i}")
    await http.post(
        f"/api/v1/questions/{first[0]['question']['id']}/approve", headers=moderator.headers
    )
    last = await current_seq(http)
    assert last == 10
    async with Channel(channel_url(live_server, "moderation", after=5), moderator.token) as ws:
        await ws.recv()  # hello
        rest = await ws.updates_until(last)
        # And live ones continue after the replay, still in order.
        await ask(http, "after the resume")
        live = await ws.updates_until(last + 1)
    assert [m["seq"] for m in rest + live] == list(range(6, last + 2))
    assert rest[-1]["question"]["status"] == "approved"


async def test_concurrent_writers_reach_a_client_in_order_without_gaps(
    http: httpx.AsyncClient, live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    async with Channel(channel_url(live_server, "moderation"), moderator.token) as ws:
        await ws.recv()
        await asyncio.gather(*(ask(http, f"burst {i}") for i in range(30)))
        got = await ws.updates_until(30)
    assert [m["seq"] for m in got] == list(range(1, 31))
    assert len({m["question"]["id"] for m in got}) == 30


async def test_too_old_or_future_seq_gets_resync(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
    settings: Settings,
) -> None:
    await ask(http, "one")
    async with Channel(channel_url(live_server, "moderation", after=99), moderator.token) as ws:
        message = await ws.recv()
    assert message == {"seq": 1, "type": "resync"}
    settings.resume_window = 0
    async with Channel(channel_url(live_server, "public", after=0)) as ws:
        message = await ws.recv()
    assert message["type"] == "resync"


async def test_heartbeats_carry_the_position(
    http: httpx.AsyncClient, live_server: LiveServer, live_event: dict[str, Any]
) -> None:
    async with Channel(channel_url(live_server, "public")) as ws:
        assert (await ws.recv())["type"] == "hello"
        beat = await ws.recv(within=3)
    assert beat["type"] == "heartbeat"
    assert beat["seq"] == 0
    assert "time" in beat


async def test_refused_channels(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    spokesperson: Actor,
) -> None:
    from websockets.exceptions import InvalidStatus

    for name, token in (
        ("moderation", None),
        ("moderation", spokesperson.token),
        ("presenter", None),
        ("presenter", "trb_wrong"),
        ("nonsense", None),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with Channel(channel_url(live_server, name), token):
                pass
        assert refused.value.response.status_code == 403, (name, token)
    with pytest.raises(InvalidStatus):
        async with Channel(channel_url(live_server, "public", slug="no-such-show")):
            pass


async def test_a_rolled_back_change_emits_nothing(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    notifier = RecordingNotifier()
    async with Channel(channel_url(live_server, "moderation"), moderator.token) as ws:
        await ws.recv()

        async def create_then_fail() -> None:
            async with unit_of_work(maker, notifier) as session:
                row = await session.get(LiveEvent, live_event["id"])
                assert row is not None
                await questions.create(
                    session, row, origin=Origin.audience, source="audience", text="never committed"
                )
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await create_then_fail()
        assert await ws.quiet_for(1.0) == []
    assert notifier.notified == []
    async with maker() as session:
        assert await session.scalar(select(func.count()).select_from(Update)) == 0
        assert await session.scalar(select(LiveEvent.last_seq)) == 0
    # The next change takes seq 1: the rolled-back one left no hole.
    await ask(http, "committed")
    assert await current_seq(http) == 1


async def test_updates_committed_together_arrive_as_one_frame_in_seq_order(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    async with Channel(channel_url(live_server, "moderation"), moderator.token) as ws:
        assert (await ws.recv())["type"] == "hello"
        # One transaction, four updates; no notification either: the feed's poll reads the
        # commit whole, as it reads whatever piled up since its last read.
        async with unit_of_work(maker, RecordingNotifier()) as session:
            row = await session.get(LiveEvent, live_event["id"])
            assert row is not None
            for i in range(4):
                await questions.create(
                    session, row, origin=Origin.audience, source="audience", text=f"together {i}"
                )
        got = await ws.updates_until(4)
        frames = [frame for frame in ws.frames if '"type":"question"' in frame]
    assert [m["seq"] for m in got] == [1, 2, 3, 4]
    assert [m["question"]["text"] for m in got] == [f"together {i}" for i in range(4)]
    assert len(frames) == 1, "one message for the four"
    assert frames[0].startswith('[{"seq":1,"type":"question"')
    # A client resuming from before them gets them (from the feed's memory) the same way.
    async with Channel(channel_url(live_server, "moderation", after=1), moderator.token) as ws:
        assert (await ws.recv())["type"] == "hello"
        assert [m["seq"] for m in await ws.updates_until(4)] == [2, 3, 4]
        assert len(ws.frames) == 2
    # A lone update is still sent as itself, not as a list of one.
    async with Channel(channel_url(live_server, "moderation", after=4), moderator.token) as ws:
        assert (await ws.recv())["type"] == "hello"
        await ask(http, "alone")
        assert [m["seq"] for m in await ws.updates_until(5)] == [5]
        assert ws.frames[-1].startswith('{"seq":5,')
