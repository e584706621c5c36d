"""Seq allocation on PostgreSQL under concurrent writers: the second writer's seq waits for
the first one's commit, so seq is commit order and a reader resuming at any moment never
skips an update that commits later with a smaller seq."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import make_engine, make_sessionmaker
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.realtime.schemas import Channel
from app.realtime.service import emit, updates_after

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_maker(migrated_pg: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(migrated_pg)
    yield make_sessionmaker(engine)
    await engine.dispose()


def everywhere(text: str) -> dict[Channel, dict[str, str] | None]:
    return {channel: {"text": text} for channel in Channel}


async def test_a_later_writer_waits_so_resume_never_skips(
    pg_maker: async_sessionmaker[AsyncSession],
) -> None:
    async with pg_maker() as session, session.begin():
        show = await events.create(
            session, LiveEventCreate(slug="ask-test", title="Ask", hashtag="AskTest")
        )
        show_id = show.id

    async def seen_after(seq: int) -> list[int]:
        async with pg_maker() as reader:
            return [row.seq for row in await updates_after(reader, show_id, seq, 100)]

    first = pg_maker()
    await first.begin()
    await emit(first, show_id, "note", everywhere("first"))  # holds seq 1, not committed

    async def second_writer() -> None:
        async with pg_maker() as second, second.begin():
            await emit(second, show_id, "note", everywhere("second"))

    second = asyncio.create_task(second_writer())
    await asyncio.sleep(0.5)
    # The second writer cannot take a seq (nor commit) before the first one commits.
    assert not second.done()
    assert await seen_after(0) == []
    await first.commit()
    await first.close()
    await second
    # A reader that resumed from 0 at any point sees 1 then 2: no later commit has seq 1.
    assert await seen_after(0) == [1, 2]
    assert await seen_after(1) == [2]
