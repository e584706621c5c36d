"""Read-only sessions cannot write, and one process's SQLite writers take turns."""

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import NullNotifier, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.models import LiveEvent
from app.events.schemas import LiveEventCreate


async def test_a_read_only_session_cannot_write(engine: AsyncEngine) -> None:
    """A GET's session: a write in it fails (SQLite's query_only, PostgreSQL's READ ONLY), and
    the pooled connection it used writes again for the next writer."""
    reading = make_sessionmaker(engine, readonly=True)
    with pytest.raises(DBAPIError):
        async with unit_of_work(reading, NullNotifier()) as session:
            await events.create(session, LiveEventCreate(slug="nope", title="Nope", hashtag="Nope"))
    async with unit_of_work(make_sessionmaker(engine), NullNotifier()) as session:
        await events.create(session, LiveEventCreate(slug="yes", title="Yes", hashtag="Yes"))
    async with reading() as session:
        slugs = set(await session.scalars(select(LiveEvent.slug)))
    assert "yes" in slugs
    assert "nope" not in slugs


async def test_writers_of_one_process_take_turns(
    engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> None:
    """The second writer starts when the first commits, whichever way SQLite would have
    polled; both commit (on PostgreSQL they simply run side by side)."""
    order: list[str] = []
    first_in = asyncio.Event()

    async def write(slug: str, hold: float) -> None:
        async with unit_of_work(maker, NullNotifier()) as session:
            order.append(f"{slug} in")
            first_in.set()
            await events.create(session, LiveEventCreate(slug=slug, title=slug, hashtag=slug))
            await asyncio.sleep(hold)
        order.append(f"{slug} out")

    async def second() -> None:
        await first_in.wait()
        await write("second", 0)

    await asyncio.gather(write("first", 0.3), second())
    if engine.dialect.name == "sqlite":
        assert order == ["first in", "first out", "second in", "second out"]
    async with maker() as session:
        slugs = set(await session.scalars(select(LiveEvent.slug)))
    assert {"first", "second"} <= slugs
