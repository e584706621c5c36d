"""Running sources: each batch and its cursor committed together, supervised with backoff."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import Notifier, unit_of_work
from app.errors import AppError
from app.events.models import LiveEvent
from app.ingest.base import Source
from app.ingest.models import IngestSource
from app.ingest.registry import build_source
from app.ingest.schemas import IngestResult
from app.ingest.service import enabled_sources, ingest_posts

log = logging.getLogger(__name__)

# Restart delays after a source fails: doubling from 1 s to at most a minute.
BACKOFF_START_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


async def _set_status(
    maker: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    source_id: int,
    status: str,
    detail: str = "",
) -> None:
    async with unit_of_work(maker, notifier) as session:
        row = await session.get(IngestSource, source_id)
        if row is not None:
            row.status, row.status_detail = status, detail


async def play(
    source: Source,
    source_id: int,
    maker: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    on_batch: Callable[[IngestResult], None] | None = None,
) -> None:
    """Feed the source's batches into the LiveEvent until the source ends.

    Each batch is stored with the source's new cursor in one transaction, so a restart resumes
    exactly after the last committed batch (and dedup absorbs any overlap).
    """
    async with maker() as session:
        row = await session.get(IngestSource, source_id)
        if row is None:
            raise LookupError(f"ingest source {source_id} is gone")
        cursor, live_event_id = row.cursor, row.live_event_id
    async for batch in source.batches(cursor):
        async with unit_of_work(maker, notifier) as session:
            live_event = await session.get(LiveEvent, live_event_id)
            row = await session.get(IngestSource, source_id)
            if live_event is None or row is None:
                raise LookupError("the LiveEvent or its source was deleted")
            result = await ingest_posts(session, live_event, batch.posts)
            row.cursor = batch.cursor
        if on_batch is not None:
            on_batch(result)


class Runner:
    """Runs every enabled source of the database in this process, each in its own task."""

    def __init__(
        self, maker: async_sessionmaker[AsyncSession], notifier: Notifier, settings: Settings
    ) -> None:
        self._maker = maker
        self._notifier = notifier
        self._settings = settings
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Start every enabled source."""
        async with self._maker() as session:
            rows = await enabled_sources(session)
            ids = [row.id for row in rows]
        for source_id in ids:
            await self.start_one(source_id)

    async def start_one(self, source_id: int) -> None:
        """(Re)start one source from its stored config and cursor."""
        await self.stop_one(source_id)
        async with self._maker() as session:
            row = await session.get(IngestSource, source_id)
            if row is None or not row.enabled:
                return
            kind, config = row.kind, dict(row.config)
        self._tasks[source_id] = asyncio.create_task(
            self._supervise(source_id, kind, config), name=f"tribune-source-{source_id}"
        )

    async def stop_one(self, source_id: int) -> None:
        task = self._tasks.pop(source_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _supervise(self, source_id: int, kind: str, config: dict[str, object]) -> None:
        delay = BACKOFF_START_SECONDS
        while True:
            try:
                source = build_source(kind, config, self._settings)

                async def report(status: str, detail: str, source_id: int = source_id) -> None:
                    await _set_status(self._maker, self._notifier, source_id, status, detail)

                source.reporter = report
                await _set_status(self._maker, self._notifier, source_id, "running")
                await play(source, source_id, self._maker, self._notifier)
            except asyncio.CancelledError:
                raise
            except AppError as exc:
                # A configuration problem: retrying cannot help until someone fixes it.
                log.error("source %s stopped: %s", source_id, exc.message)
                await _set_status(self._maker, self._notifier, source_id, "stopped", exc.message)
                return
            except Exception as exc:
                log.exception("source %s failed; retrying in %.0f s", source_id, delay)
                with contextlib.suppress(Exception):
                    await _set_status(
                        self._maker, self._notifier, source_id, "retrying", f"{exc!r}"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
                continue
            await _set_status(self._maker, self._notifier, source_id, "finished")
            return

    async def stop(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
