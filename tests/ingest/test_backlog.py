"""Reading a source ahead of the database: what queued up is stored together, in order, with the
last cursor; a trickle is stored at once; a failing source's earlier batches are stored first."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from app.ingest.backlog import Backlog
from app.ingest.base import Batch
from app.ingest.schemas import NormalisedPost


def post(i: int) -> NormalisedPost:
    return NormalisedPost(
        source="replay",
        external_id=str(i),
        author_id="1",
        author_handle="asker",
        author_name="Asker",
        author_avatar_url="",
        text=f"question {i}",
        lang="en",
        posted_at=datetime(2026, 12, 3, 18, tzinfo=UTC),
        is_retweet=False,
        mentions=(),
        raw={},
    )


def batch(first: int, size: int) -> Batch:
    return Batch(posts=[post(i) for i in range(first, first + size)], cursor=str(first + size))


async def burst(sizes: list[int]) -> AsyncIterator[Batch]:
    """Batches back to back, as a source with a backlog yields them."""
    first = 0
    for size in sizes:
        yield batch(first, size)
        first += size


def ids(merged: Batch) -> list[int]:
    return [int(p.external_id) for p in merged.posts]


async def store_all(batches: AsyncIterator[Batch], max_posts: int, stored: list[Batch]) -> None:
    """What the runner does, with storing that takes a while: the source is read meanwhile."""
    async with Backlog(batches, max_posts) as backlog:
        await asyncio.sleep(0.01)
        async for merged in backlog:
            stored.append(merged)
            await asyncio.sleep(0.01)


async def test_queued_batches_are_merged_up_to_the_cap_in_order() -> None:
    merged: list[Batch] = []
    await store_all(burst([3, 3, 3, 3, 10, 1]), 7, merged)
    # 3 + 3 fit under 7, a third would not; the 10-post batch is never split.
    assert [len(b.posts) for b in merged] == [6, 6, 10, 1]
    assert [b.cursor for b in merged] == ["6", "12", "22", "23"]
    assert [i for b in merged for i in ids(b)] == list(range(23))


async def test_a_trickle_is_stored_as_it_comes() -> None:
    arrived = asyncio.Event()

    async def trickle() -> AsyncIterator[Batch]:
        yield batch(0, 1)
        await arrived.wait()
        yield batch(1, 1)

    async with Backlog(trickle(), max_posts=100) as backlog:
        first = await asyncio.wait_for(anext(backlog), 1)
        arrived.set()
        second = await asyncio.wait_for(anext(backlog), 1)
    assert (ids(first), first.cursor, ids(second), second.cursor) == ([0], "1", [1], "2")


async def test_a_failing_source_has_its_earlier_batches_stored_first() -> None:
    async def failing() -> AsyncIterator[Batch]:
        yield batch(0, 2)
        yield batch(2, 2)
        raise ConnectionError("the stream broke")

    got: list[Batch] = []
    with pytest.raises(ConnectionError, match="the stream broke"):
        await store_all(failing(), 100, got)
    assert [(ids(b), b.cursor) for b in got] == [([0, 1, 2, 3], "4")]


async def test_leaving_early_closes_the_source() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[Batch]:
        try:
            first = 0
            while True:
                yield batch(first, 5)
                first += 5
        finally:
            closed.set()  # a stream would disconnect here

    async with Backlog(endless(), max_posts=10) as backlog:
        await anext(backlog)
    assert closed.is_set()
