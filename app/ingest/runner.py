"""Running sources: each batch and its cursor committed together, supervised with backoff."""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import Notifier, concurrent_writers, unit_of_work
from app.errors import AppError
from app.events.models import LiveEvent
from app.ingest.backlog import Backlog
from app.ingest.base import Batch, Source
from app.ingest.models import IngestSource
from app.ingest.registry import build_source
from app.ingest.schemas import IngestResult
from app.ingest.service import InFlight, enabled_sources, ingest_posts
from app.ops import service as ops

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


# Ingest transactions at work at once on PostgreSQL: while one waits for the database, the
# next one's Python work (rows, views, frames) runs. bench/ingest.py's pipeline() alone, 60,000
# posts: one at a time 13,400 to 14,700 posts/s (three runs), three at a time 20,100 and 20,600
# (two). Two at a time gave less, and the moderator no quicker (bench/README.md). SQLite takes
# one writer at a time: there, one.
IN_FLIGHT = 3


async def play(
    source: Source,
    source_id: int,
    maker: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    on_batch: Callable[[IngestResult], None] | None = None,
) -> None:
    """Feed the source's batches into the LiveEvent until the source ends.

    Each batch is stored with the source's new cursor in one transaction, so a restart resumes
    exactly after the last committed batch (and dedup absorbs any overlap). The source is read
    while a batch is being stored; batches that queued up meanwhile are stored together, up to
    ``source.max_batch`` posts (ingest.backlog). On PostgreSQL, up to IN_FLIGHT batches are
    stored side by side, committed in order (ingest.service.InFlight); if one fails, the ones
    after it are rolled back, and the source restarts from the last committed cursor.
    """
    async with maker() as session:
        row = await session.get(IngestSource, source_id)
        if row is None:
            raise LookupError(f"ingest source {source_id} is gone")
        cursor, live_event_id = row.cursor, row.live_event_id

    async def store(batch: Batch, in_flight: InFlight) -> IngestResult:
        committed = False
        try:
            async with unit_of_work(maker, notifier) as session:
                live_event = await session.get(LiveEvent, live_event_id)
                row = await session.get(IngestSource, source_id)
                if live_event is None or row is None:
                    raise LookupError("the LiveEvent or its source was deleted")
                result = await ingest_posts(session, live_event, batch.posts, in_flight)
                row.cursor = batch.cursor
                await in_flight.turn()
            committed = True
        finally:
            in_flight.end(committed=committed)
        return result

    at_once = IN_FLIGHT if concurrent_writers(maker) else 1
    storing: deque[asyncio.Task[IngestResult]] = deque()
    last: InFlight | None = None

    async def stored(count: int) -> None:
        """Until no more than ``count`` batches are left in flight, oldest first."""
        while len(storing) > count:
            result = await storing.popleft()
            if on_batch is not None:
                on_batch(result)

    async with Backlog(source.batches(cursor), source.max_batch) as backlog:
        try:
            while True:
                try:
                    batch = await anext(backlog)
                except StopAsyncIteration:
                    break
                except Exception:
                    # The source failed after these batches: they are stored first, as when
                    # batches were stored one at a time (a stream cannot send them again).
                    await stored(0)
                    raise
                last = InFlight(last)
                storing.append(asyncio.create_task(store(batch, last)))
                await stored(at_once - 1)
            await stored(0)
        finally:
            # Stopped, or a batch failed: the ones after it roll back (they cannot commit).
            for task in storing:
                task.cancel()
            await asyncio.gather(*storing, return_exceptions=True)


# Each source runs in exactly one worker of the deployment: the holder of its lease. The
# holder renews every LEASE_RENEW_SECONDS; when it dies, another worker takes the lease once it
# expires, so a source is back within LEASE_SECONDS + LEASE_RENEW_SECONDS (8 s).
LEASE_SECONDS = 6.0
LEASE_RENEW_SECONDS = 2.0


def lease_name(source_id: int) -> str:
    return f"source:{source_id}"


class Runner:
    """Runs the enabled sources this worker leads, each in its own supervised task."""

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        settings: Settings,
        *,
        name: str | None = None,
    ) -> None:
        self._maker = maker
        self._notifier = notifier
        self._settings = settings
        self.name = name or ops.worker_name()
        # Running sources: their task and the generation of the config it runs.
        self._tasks: dict[int, tuple[asyncio.Task[None], int]] = {}
        self._wake = asyncio.Event()
        self._lead_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Lead: take the leases of enabled sources as they come free, and run those."""
        if self._lead_task is None:
            self._lead_task = asyncio.create_task(self._lead(), name="tribune-ingest-leader")

    async def start_one(self, source_id: int) -> None:
        """A source was added or asked to restart: look now rather than at the next round."""
        await self.start()
        self._wake.set()

    @property
    def running(self) -> set[int]:
        return {sid for sid, (task, _) in self._tasks.items() if not task.done()}

    async def _lead(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:
                # The database may be away for a moment: keep what runs, try again soon.
                log.exception("ingest leadership round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), LEASE_RENEW_SECONDS)
            self._wake.clear()

    async def _round(self) -> None:
        held: dict[int, tuple[str, dict[str, object], int]] = {}
        async with unit_of_work(self._maker, self._notifier) as session:
            for row in await enabled_sources(session):
                if await ops.take(session, lease_name(row.id), self.name, LEASE_SECONDS):
                    held[row.id] = (row.kind, dict(row.config), row.generation)
                    if row.worker != self.name:
                        row.worker = self.name
        for source_id, (_task, generation) in list(self._tasks.items()):
            lead = held.get(source_id)
            if lead is None or lead[2] != generation:
                # Disabled, taken over, or asked to restart with a new generation.
                await self._stop_task(source_id)
        for source_id, (kind, config, generation) in held.items():
            if source_id not in self._tasks:
                task = asyncio.create_task(
                    self._supervise(source_id, kind, config), name=f"tribune-source-{source_id}"
                )
                self._tasks[source_id] = (task, generation)

    async def _stop_task(self, source_id: int) -> None:
        entry = self._tasks.pop(source_id, None)
        if entry is not None:
            entry[0].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await entry[0]

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
        """Stop leading: end the sources and give their leases up for another worker."""
        if self._lead_task is not None:
            self._lead_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lead_task
            self._lead_task = None
        ids = list(self._tasks)
        for source_id in ids:
            await self._stop_task(source_id)
        if ids:
            with contextlib.suppress(Exception):
                async with unit_of_work(self._maker, self._notifier) as session:
                    for source_id in ids:
                        await ops.release(session, lease_name(source_id), self.name)
