"""The hub: a client that does not read is cut loose; the others never wait for it."""

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.questions import service as questions
from app.questions.models import Origin
from app.realtime.hub import Hub
from app.realtime.router import _pump
from app.realtime.schemas import CLOSE_LAGGING, Channel
from tests.conftest import RecordingNotifier


async def test_a_lagging_subscriber_is_dropped_and_others_get_everything(
    engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> None:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        show = await events.create(session, LiveEventCreate(slug="s", title="S", hashtag="S"))
    hub = Hub(make_sessionmaker(engine, readonly=True), queue_size=3, poll_seconds=5)
    reader = await hub.subscribe(show.id, Channel.moderation)
    sleeper = await hub.subscribe(show.id, Channel.moderation)
    received: list[int] = []
    try:
        for i in range(10):
            async with unit_of_work(maker, hub) as session:
                await questions.create(
                    session, show, origin=Origin.audience, source="audience", text=f"q{i}"
                )
            while len(received) < i + 1:
                item = await asyncio.wait_for(reader.queue.get(), 5)
                assert item is not None
                received.append(item[0])
        assert received == list(range(1, 11))
        assert sleeper.lagging
        assert sleeper.queue.qsize() == 1
        assert sleeper.queue.get_nowait() is None, "only the stop signal is left"
        assert hub.connection_counts()[Channel.moderation] == 2
    finally:
        await hub.unsubscribe(reader)
        await hub.unsubscribe(sleeper)
        await hub.close()
    assert hub.connection_counts()[Channel.moderation] == 0


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


async def test_the_pump_skips_what_replay_sent_and_closes_a_lagging_client() -> None:
    from app.realtime.hub import Subscriber

    sub = Subscriber(1, Channel.public, maxsize=2)
    for seq in (4, 5):  # 4 was already sent by the replay
        sub.offer(seq, f'{{"seq":{seq}}}')
    socket: Any = RecordingSocket()
    pump = asyncio.create_task(_pump(socket, sub, sent=4, heartbeat=30))
    await asyncio.sleep(0.05)
    assert socket.sent == ['{"seq":5}']
    for seq in (6, 7, 8):  # one more than the queue holds
        sub.offer(seq, f'{{"seq":{seq}}}')
    await asyncio.wait_for(pump, 2)
    assert socket.closed is not None
    assert socket.closed[0] == CLOSE_LAGGING
    assert socket.sent == ['{"seq":5}'], "nothing after the overflow is sent: the client resumes"
