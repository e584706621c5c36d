"""The hub: a client that does not read is cut loose; the others never wait for it."""

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import Committed, LoggedUpdate, NullNotifier, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.questions import service as questions
from app.questions.models import Origin
from app.realtime.hub import Batch, Hub, Subscriber
from app.realtime.models import Update
from app.realtime.schemas import Channel
from tests.conftest import RecordingNotifier


class Socket:
    """What a subscriber sends to, as uvicorn's ASGI send behaves: a send completes at once,
    unless the socket is clogged (its buffer full), when it waits until unclogged."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed = asyncio.Event()
        self.clear = asyncio.Event()
        self.clear.set()
        self._sent_one = asyncio.Event()

    async def send(self, message: Any) -> None:
        await self.clear.wait()
        self.sent.append(message["text"])
        self._sent_one.set()

    async def close(self) -> None:
        self.closed.set()

    async def until_sent(self, count: int) -> None:
        while len(self.sent) < count:
            self._sent_one.clear()
            await self._sent_one.wait()

    def seqs(self) -> list[int]:
        """Each message's first seq."""
        return [int(text.split('"seq":')[1].split(",")[0]) for text in self.sent]

    def every_seq(self) -> list[int]:
        """Every update's seq, in the order sent: a batch's each."""
        return [int(part.split(",")[0]) for text in self.sent for part in text.split('"seq":')[1:]]


def live(sub: Subscriber, socket: Socket, sent: int) -> None:
    sub.go_live(socket.send, socket.close, sent, heartbeat=30, beat=lambda seq: "{}")


def batch(*seqs: int) -> Batch:
    return Batch(seqs, [f'{{"seq":{seq},"type":"t"}}' for seq in seqs])


async def test_a_lagging_subscriber_is_dropped_and_others_get_everything(
    engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> None:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        show = await events.create(session, LiveEventCreate(slug="s", title="S", hashtag="S"))
    hub = Hub(make_sessionmaker(engine, readonly=True), queue_size=3, poll_seconds=5)
    reader, sleeper = Socket(), Socket()
    sleeper.clear.clear()  # never reads: its first send waits for ever
    subs = [await hub.subscribe(show.id, Channel.moderation) for _ in range(2)]
    live(subs[0], reader, subs[0].start)
    live(subs[1], sleeper, subs[1].start)
    try:
        for i in range(10):
            async with unit_of_work(maker, hub) as session:
                await questions.create(
                    session, show, origin=Origin.audience, source="audience", text=f"q{i}"
                )
            await asyncio.wait_for(reader.until_sent(i + 1), 5)
        assert reader.seqs() == list(range(1, 11))
        assert subs[1].lagging
        assert subs[1].backlog == 0, "what it did not read was dropped"
        assert hub.connection_counts()[Channel.moderation] == 2
        # Once its socket takes the one send in flight, it is closed (4008): it resumes.
        sleeper.clear.set()
        await asyncio.wait_for(sleeper.closed.wait(), 5)
        assert sleeper.seqs() == [1]
    finally:
        for sub in subs:
            await hub.unsubscribe(sub)
        await hub.close()
    assert hub.connection_counts()[Channel.moderation] == 0


async def test_a_subscriber_skips_what_replay_sent_and_closes_when_lagging() -> None:
    sub = Subscriber(1, Channel.public, maxsize=2)
    for seq in (4, 5):  # arrive during the replay, which sent 4
        sub.offer(batch(seq))
    socket = Socket()
    live(sub, socket, sent=4)
    assert socket.seqs() == [5], "sent at once, without a task"
    socket.clear.clear()
    for seq in (6, 7, 8, 9):  # 6 is in flight, 7 and 8 fill the queue, 9 is one too many
        sub.offer(batch(seq))
    await asyncio.sleep(0.01)
    assert sub.lagging
    socket.clear.set()
    await asyncio.wait_for(socket.closed.wait(), 2)
    assert socket.seqs() == [5, 6], "nothing after the overflow is sent: the client resumes"


async def test_a_batch_counts_each_update_against_the_bound() -> None:
    socket = Socket()
    sub = Subscriber(1, Channel.public, maxsize=4)
    live(sub, socket, sent=0)
    sub.offer(batch(1, 2, 3, 4, 5, 6))  # larger than the bound, to a client keeping up
    assert socket.seqs() == [1]
    assert socket.sent == ["[" + ",".join(batch(s).frame for s in range(1, 7)) + "]"]
    socket.clear.clear()
    sub.offer(batch(7))  # in flight
    sub.offer(batch(8, 9, 10))  # queued: 3 of 4
    assert sub.backlog == 3
    assert not sub.lagging
    sub.offer(batch(11, 12))  # 5 of 4
    assert sub.lagging
    socket.clear.set()
    await asyncio.wait_for(socket.closed.wait(), 2)


async def test_a_batch_overlapping_the_replay_sends_only_the_rest() -> None:
    socket = Socket()
    sub = Subscriber(1, Channel.public, maxsize=10)
    sub.offer(batch(3, 4, 5))
    live(sub, socket, sent=4)
    assert socket.sent == [batch(5).frame]


async def test_a_quiet_socket_gets_heartbeats_a_busy_one_does_not() -> None:
    socket = Socket()
    sub = Subscriber(1, Channel.public, maxsize=10)
    sub.go_live(socket.send, socket.close, 7, heartbeat=0.05, beat=lambda seq: f"beat {seq}")
    await asyncio.sleep(0.18)
    beats = len(socket.sent)
    assert 2 <= beats <= 4
    assert set(socket.sent) == {"beat 7"}
    for seq in range(8, 20):
        sub.offer(batch(seq))
        await asyncio.sleep(0.02)
    assert "beat" not in "".join(socket.sent[beats:]), "no heartbeat while updates flow"
    sub.stop()


async def test_a_storm_of_subscribers_starts_one_feed_and_the_last_out_stops_it(
    engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> None:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        show = await events.create(session, LiveEventCreate(slug="s", title="S", hashtag="S"))
        await questions.create(session, show, origin=Origin.audience, source="audience", text="Q")
    hub = Hub(make_sessionmaker(engine, readonly=True), queue_size=3, poll_seconds=5)
    try:
        # A reconnect storm: all at once, before the feed exists.
        subs = await asyncio.gather(*(hub.subscribe(show.id, Channel.public) for _ in range(200)))
        feeds = {id(feed) for feed in hub._feeds.values()}
        assert len(feeds) == 1
        assert hub.connection_counts()[Channel.public] == 200
        assert {sub.start for sub in subs} == {1}  # the log's position when the feed started
        # One leaves while another arrives: both see a consistent hub.
        leaving = asyncio.gather(*(hub.unsubscribe(sub) for sub in subs))
        late = asyncio.create_task(hub.subscribe(show.id, Channel.public))
        await leaving
        sub = await late
        feed = hub._feeds[show.id]
        assert sub in feed.subscribers
        assert feed.task is not None
        assert not feed.task.done()  # a live feed serves the late one
        await hub.unsubscribe(sub)
        assert hub._feeds == {}
    finally:
        await hub.close()


async def test_a_commit_goes_out_as_written_and_a_gap_is_filled_from_the_log_in_order(
    engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> None:
    # At 10,000 clients a worker's feed reads each update back from the log once; with
    # several workers, each of them does. A commit hands its updates over as written
    # instead, and the log is read only for what a worker was not handed.
    async with unit_of_work(maker, RecordingNotifier()) as session:
        show = await events.create(session, LiveEventCreate(slug="s", title="S", hashtag="S"))
    log_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and Update.__tablename__ in statement:
            log_reads.append(statement)

    hub = Hub(make_sessionmaker(engine, readonly=True), queue_size=100, poll_seconds=30)
    sub = await hub.subscribe(show.id, Channel.moderation)
    socket = Socket()
    live(sub, socket, sub.start)
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for i in range(3):
            async with unit_of_work(maker, hub) as session:
                await questions.create(
                    session, show, origin=Origin.audience, source="audience", text=f"q{i}"
                )
        await asyncio.wait_for(socket.until_sent(3), 5)
        assert socket.seqs() == [1, 2, 3]
        assert log_reads == [], "sent as committed, not read back"
        # Another worker's commit, not heard of here (its message lost), then one of ours:
        # ours does not follow on from what was sent, so the log fills the gap first.
        async with unit_of_work(maker, NullNotifier()) as session:
            await questions.create(
                session, show, origin=Origin.audience, source="audience", text="x"
            )
        async with unit_of_work(maker, hub) as session:
            await questions.create(
                session, show, origin=Origin.audience, source="audience", text="y"
            )
        await asyncio.wait_for(socket.until_sent(4), 5)
        await asyncio.sleep(0.1)  # nothing else may follow
        assert socket.every_seq() == [1, 2, 3, 4, 5], "every update once, in order"
        assert len(log_reads) >= 1
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        await hub.unsubscribe(sub)
        await hub.close()


class Handed:
    """A notifier that keeps what each commit handed over."""

    def __init__(self) -> None:
        self.committed: list[dict[int, list[LoggedUpdate]]] = []

    def notify(self, committed: Committed) -> None:
        self.committed.append({key: list(updates) for key, updates in committed.items()})


async def test_updates_written_in_a_savepoint_are_announced_not_handed_over(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    # A savepoint may be rolled back while its transaction commits, and its seq taken again:
    # a feed handed its update would send one that never was. It reads the log instead.
    async with unit_of_work(maker, RecordingNotifier()) as session:
        show = await events.create(session, LiveEventCreate(slug="s", title="S", hashtag="S"))
    handed = Handed()
    async with unit_of_work(maker, handed) as session:
        await questions.create(session, show, origin=Origin.audience, source="audience", text="a")
    async with unit_of_work(maker, handed) as session:
        async with session.begin_nested():
            await questions.create(
                session, show, origin=Origin.audience, source="audience", text="b"
            )
        await questions.create(session, show, origin=Origin.audience, source="audience", text="c")
    assert [update.seq for update in handed.committed[0][show.id]] == [1]
    assert handed.committed[1] == {show.id: []}, "read from the log, not carried"
