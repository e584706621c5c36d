"""Read-only sessions cannot write, one process's SQLite writers take turns, and a writer
that cannot have its lock in time fails with a 503 the client can retry."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import db
from app.config import Settings
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.errors import DatabaseBusy, is_busy
from app.events import service as events
from app.events.models import LiveEvent
from app.events.schemas import LiveEventCreate
from app.questions.models import Question


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


@pytest.fixture
def busy_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers give up on a taken lock after 0.3 s instead of 10 (before any engine exists)."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)


@asynccontextmanager
async def lock_held_elsewhere(url: str, live_event_id: int) -> AsyncIterator[None]:
    """Another process's writer holding the lock a new question needs: SQLite's write lock,
    or the LiveEvent's row on PostgreSQL."""
    if url.startswith("sqlite"):
        other = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with conn.transaction():
            await conn.execute("SELECT id FROM live_events WHERE id = $1 FOR UPDATE", live_event_id)
            yield
    finally:
        await conn.close()


async def test_a_write_that_cannot_have_its_lock_in_time_is_a_503_and_stores_nothing(
    busy_soon: None,
    settings: Settings,
    live_event: dict[str, object],
    http: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    path = "/api/v1/events/ask-test/questions"
    assert (await http.post(path, json={"text": "Before the lock?"})).status_code == 201
    async with lock_held_elsewhere(settings.database_url, int(str(live_event["id"]))):
        busy = await http.post(path, json={"text": "During the lock?"})
    assert busy.status_code == 503, busy.text
    assert busy.headers["Retry-After"] == "1"
    assert busy.json()["error"]["code"] == "busy"
    # The client tries again once the lock is free, as Retry-After says.
    assert (await http.post(path, json={"text": "During the lock?"})).status_code == 201
    async with maker() as session:
        texts = list(await session.scalars(select(Question.text).order_by(Question.id)))
    assert texts == ["Before the lock?", "During the lock?"]


async def test_a_writer_queued_past_the_timeout_gives_up_as_busy(
    busy_soon: None, settings: Settings
) -> None:
    """Behind a writer that keeps its lock: this process's queue on SQLite, the row lock on
    PostgreSQL. The first writer's change is kept."""
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    try:
        async with unit_of_work(maker, NullNotifier()) as session:
            show = await events.create(
                session, LiveEventCreate(slug="held", title="Held", hashtag="Held")
            )
        first_in = asyncio.Event()

        async def retitle(title: str, hold: float) -> None:
            async with unit_of_work(maker, NullNotifier()) as session:
                await session.execute(
                    update(LiveEvent).where(LiveEvent.id == show.id).values(title=title)
                )
                first_in.set()
                await asyncio.sleep(hold)

        async def second() -> None:
            await first_in.wait()
            await retitle("second", 0)

        outcome = await asyncio.gather(retitle("first", 1.0), second(), return_exceptions=True)
        assert outcome[0] is None
        error = outcome[1]
        assert isinstance(error, DatabaseBusy | DBAPIError), error
        assert isinstance(error, DatabaseBusy) or is_busy(error)
        async with maker() as session:
            title = await session.scalar(select(LiveEvent.title).where(LiveEvent.id == show.id))
        assert title == "first"
    finally:
        await engine.dispose()


async def test_a_writer_in_another_process_is_not_starved_by_back_to_back_transactions(
    settings: Settings,
) -> None:
    """Ingest in one worker commits batch after batch; a moderator's write in another worker
    gets its turn after the transaction under way, not once they all end. (Two engines: two
    processes' worth of pools and queues; on PostgreSQL the two simply run side by side.)"""
    bulk_engine, other_engine = (
        make_engine(settings.database_url),
        make_engine(settings.database_url),
    )
    bulk, other = make_sessionmaker(bulk_engine), make_sessionmaker(other_engine)
    try:
        async with unit_of_work(bulk, NullNotifier()) as session:
            show = await events.create(
                session, LiveEventCreate(slug="busy", title="Busy", hashtag="Busy")
            )
        order: list[str] = []
        started = asyncio.Event()

        async def batches() -> None:
            for n in range(25):
                async with unit_of_work(bulk, NullNotifier()) as session:
                    await session.execute(
                        update(LiveEvent).where(LiveEvent.id == show.id).values(title=f"{n}")
                    )
                    started.set()
                    await asyncio.sleep(0.02)  # a batch being stored
                order.append(f"batch {n}")

        async def approve() -> None:
            await started.wait()
            async with unit_of_work(other, NullNotifier()) as session:
                await session.execute(
                    update(LiveEvent).where(LiveEvent.id == show.id).values(description="x")
                )
            order.append("approve")

        await asyncio.gather(batches(), approve())
        assert order.index("approve") < order.index("batch 24"), order
    finally:
        await bulk_engine.dispose()
        await other_engine.dispose()
