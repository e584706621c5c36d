"""Batches stored side by side (PostgreSQL runs several ingest transactions at once): they
commit in order, their updates reach the hub in seq order, a post in two of them is stored once,
and when one fails, none after it commits, so that the source resumes with nothing lost."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import LoggedUpdate, concurrent_writers, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.ingest.base import Batch, Source
from app.ingest.models import IngestSource, Post
from app.ingest.runner import play
from app.ingest.service import BatchAbandoned, InFlight
from app.questions.models import Question
from app.realtime.models import Update
from tests.conftest import RecordingNotifier
from tests.ingest.test_backlog import post


class Batches(Source):
    """Given batches, back to back (a backlog), each kept apart (max_batch: one batch), the
    cursor being the batch's number."""

    slug: ClassVar[str] = "test-batches"
    title: ClassVar[str] = "Batches"
    config_model: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, ranges: Sequence[range], *, then_fail: bool = False) -> None:
        self.ranges = ranges
        self.max_batch = max(len(r) for r in ranges)
        self.then_fail = then_fail

    async def batches(self, cursor: str) -> AsyncIterator[Batch]:
        done = int(cursor or 0)
        for number, ids in enumerate(self.ranges, start=1):
            if number > done:
                yield Batch(posts=[post(i) for i in ids], cursor=str(number))
        if self.then_fail:
            raise ConnectionError("the stream dropped")


class SeqNotifier(RecordingNotifier):
    """Also keeps the seqs of the updates handed over, in the order they were."""

    def __init__(self) -> None:
        super().__init__()
        self.seqs: list[int] = []

    def notify(self, committed: Mapping[int, Sequence[LoggedUpdate]]) -> None:
        super().notify(committed)
        self.seqs.extend(update.seq for updates in committed.values() for update in updates)


async def setup(maker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """A LiveEvent and a source row: their ids."""
    async with unit_of_work(maker, RecordingNotifier()) as session:
        live_event = await events.create(
            session, LiveEventCreate(slug="aurora", title="Aurora", hashtag="AskAurora")
        )
        row = IngestSource(live_event_id=live_event.id, kind=Batches.slug, config={})
        session.add(row)
        await session.flush()
        return live_event.id, row.id


def first(count: int, cursor: str) -> dict[str, Any]:
    """What ``stored`` finds when the first ``count`` posts are in, each once, with a question
    and an update each, seqs without a gap."""
    return {
        "cursor": cursor,
        "posts": list(range(count)),
        "distinct posts": count,
        "questions": count,
        "seqs": list(range(1, count + 1)),
    }


async def stored(maker: async_sessionmaker[AsyncSession], source_id: int) -> dict[str, Any]:
    async with maker() as session:
        source = await session.get(IngestSource, source_id)
        assert source is not None
        posts = list(await session.scalars(select(Post.external_id)))
        return {
            "cursor": source.cursor,
            "posts": sorted(int(p) for p in posts),
            "distinct posts": len(set(posts)),
            "questions": await session.scalar(select(func.count()).select_from(Question)),
            "seqs": list(await session.scalars(select(Update.seq).order_by(Update.seq))),
        }


@contextmanager
def transactions_at_once(engine: AsyncEngine) -> Iterator[Callable[[], int]]:
    """The most transactions open at once on the engine while inside."""
    open_now, most = 0, 0

    def began(_conn: Any) -> None:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)

    def ended(_conn: Any) -> None:
        nonlocal open_now
        open_now -= 1

    listeners = [("begin", began), ("commit", ended), ("rollback", ended)]
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield lambda: most
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)


async def test_batches_in_flight_commit_in_order_and_a_post_in_two_is_stored_once(
    maker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    _, source_id = await setup(maker)
    # Posts 50 to 99 come again in the second batch, 150 to 199 in the third (a stream's
    # reconnection overlaps what it sent): each is stored, and asked, once.
    notifier = SeqNotifier()
    with transactions_at_once(engine) as most:
        await play(
            Batches([range(0, 100), range(50, 200), range(150, 300), range(300, 400)]),
            source_id,
            maker,
            notifier,
        )
    # PostgreSQL stores batches side by side; SQLite has one writer.
    assert most() >= 2 if concurrent_writers(maker) else most() == 1
    assert await stored(maker, source_id) == first(400, "4")
    # Handed to the hub commit after commit, in seq order: no client waits for a gap.
    assert notifier.seqs == list(range(1, 401))


@contextmanager
def failing_updates_of(engine: AsyncEngine, marker: str) -> Iterator[None]:
    """The update log's insert fails in the transaction whose frames name ``marker``: late in
    it, after its seqs are taken and while the batches after it are at work."""

    def fail(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("INSERT INTO updates") and marker in repr(parameters):
            raise RuntimeError("the database went away")

    event.listen(engine.sync_engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", fail)


async def test_when_a_batch_fails_none_after_it_commits_and_the_source_resumes_with_all(
    maker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    _, source_id = await setup(maker)
    source = Batches([range(0, 100), range(100, 200), range(200, 300), range(300, 400)])
    notifier = SeqNotifier()
    with failing_updates_of(engine, "question 150"), pytest.raises(RuntimeError, match="went away"):
        await play(source, source_id, maker, notifier)
    # The second batch failed: the third and fourth, stored beside it, rolled back. Had one of
    # them committed, its cursor would have skipped the second batch's posts for good.
    assert await stored(maker, source_id) == first(100, "1")
    assert notifier.seqs == list(range(1, 101))

    # The supervisor starts the source again from its cursor: everything, once.
    await play(source, source_id, maker, notifier)
    assert await stored(maker, source_id) == first(400, "4")
    assert notifier.seqs == list(range(1, 401))


async def test_a_batch_waits_for_the_one_before_and_never_commits_after_it_failed() -> None:
    first = InFlight()
    second = InFlight(first)
    posts_turn = asyncio.create_task(second.posts_turn())
    turn = asyncio.create_task(second.turn())
    await asyncio.sleep(0.01)
    assert not posts_turn.done()
    assert not turn.done()
    first.posts_stored()
    await asyncio.wait_for(posts_turn, 1)
    assert not turn.done()  # the posts are in, not committed
    first.end(committed=False)
    with pytest.raises(BatchAbandoned):
        await asyncio.wait_for(turn, 1)

    # Committed, the one before lets the next one go on to its seqs and its commit.
    stored = InFlight()
    after_it = InFlight(stored)
    stored.end(committed=True)
    await asyncio.wait_for(after_it.turn(), 1)


async def test_when_the_source_fails_the_batches_it_gave_before_are_stored_first(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    # A stream that drops cannot send again what it sent: the batches in flight are kept.
    _, source_id = await setup(maker)
    source = Batches([range(0, 100), range(100, 200), range(200, 300)], then_fail=True)
    notifier = SeqNotifier()
    with pytest.raises(ConnectionError):
        await play(source, source_id, maker, notifier)
    assert await stored(maker, source_id) == first(300, "3")
    assert notifier.seqs == list(range(1, 301))
