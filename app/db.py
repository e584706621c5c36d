"""Database plumbing: the declarative Base, the engine factory and the request session.

The engine is built in the app's lifespan (nothing connects at import). SQLite gets WAL, a busy
timeout, foreign keys and IMMEDIATE write transactions; see ``make_engine``.
"""

import asyncio
import contextlib
import fcntl
import json
import os
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple, Protocol

from fastapi import Depends, Path, Request
from pydantic_core import PydanticSerializationError, to_json
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from app.errors import DatabaseBusy, Invalid

# Stable constraint names, so that Alembic migrations name the same thing on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Ids are INTEGER columns, 32 bits on PostgreSQL. A bigger id names nothing, and the driver
# would fail to bind it (asyncpg's DataError; sqlite3's OverflowError past 64 bits): a 500.
MAX_ID = 2**31 - 1
# An id in a URL path: refused with a 422 outside what the database can hold.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend.

    SQLite stores no zone; values are written in UTC and read back as aware UTC datetimes, so
    application code never meets a naive datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A writer waits this long for a lock before giving up: SQLite's busy_timeout (and this
# process's writer queue), PostgreSQL's lock_timeout. A live chat has bursts of writers
# (ingest, several moderators) that each hold a lock for milliseconds; a wait this long means
# something holds it for good, and the request fails with a 503 the client can retry
# (errors.py) rather than hang.
BUSY_TIMEOUT_MS = 10_000


class NulInText(Invalid):
    """A NUL character (U+0000) in a value bound for the database."""


# What parameters nest in: a statement's tuple or dict of values, executemany's list of those,
# bulk.py's tuple of one list per column (PostgreSQL).
_NESTED = (str, tuple, list, dict)


def _has_nul(parameters: object) -> bool:
    """Whether a string in a statement's parameters (nested as drivers take them) has a NUL.

    Every statement goes through this, and an ingest batch binds tens of thousands of values:
    so a loop over a stack rather than a recursion (a call and a generator per value cost more
    than the check), and a sequence of strings only (a bulk insert's text column) is checked
    in one go, joined.
    """
    pending: list[object] = [parameters]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
            continue
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, tuple | list):
            continue
        if value and type(value[0]) is str:
            try:
                if "\x00" in "".join(value):
                    return True
                continue
            except TypeError:
                pass  # not only strings: one by one, below
        for item in value:
            if type(item) is str:
                if "\x00" in item:
                    return True
            elif isinstance(item, _NESTED):
                pending.append(item)  # a str subclass (an enum's value), or a nested sequence
    return False


# An execution option: the statement's parameters were checked for NULs by whoever built them
# (bulk.py checks a batch column by column, before its rows are formed: much cheaper than the
# same values row by row here).
NUL_CHECKED = "tribune_nul_checked"


def refuse_nul(parameters: object) -> None:
    """Raise NulInText if a string in ``parameters`` (nested as ``_has_nul`` reads) has a NUL."""
    # PostgreSQL's text types cannot hold U+0000 (the driver fails with "invalid byte
    # sequence"), SQLite's can. Refusing it on every backend, before the statement is sent,
    # makes a NUL anywhere in a request (a path, a query, a body) the client's error, a 400,
    # on both; never a 500 on one of them. Network text has lost its NULs already (clean_text).
    if _has_nul(parameters):
        raise NulInText("text cannot contain the NUL character (U+0000)")


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, context: Any, _many: bool
) -> None:
    if context is not None and context.execution_options.get(NUL_CHECKED):
        return
    refuse_nul(parameters)


class EncodedJSON(str):
    """A value's JSON text, already encoded: a JSON column stores it as it is.

    An ingested post keeps its payload (Post.raw), and the stream delivered that payload as
    JSON text: storing the text spares encoding again what was just decoded, about a tenth of
    ingest's work per post. Only wrap text that is the JSON of the value the column would
    otherwise be given (the text that value was parsed from).
    """

    __slots__ = ()


def _json_text(value: Any) -> str:
    """What a JSON column stores: compact UTF-8 JSON, by pydantic-core's encoder (as the
    update log's frames are written), or the text of an EncodedJSON as it is.

    Every ingested post keeps its payload (Post.raw), and json.dumps took five times as long
    as this. Read back, the value is the same. A string that UTF-8 cannot encode (a lone
    surrogate, which a payload's JSON may spell as an escape) goes through json.dumps, which
    escapes it, as before.
    """
    if type(value) is EncodedJSON:
        return str.__str__(value)
    try:
        return to_json(value).decode()
    except PydanticSerializationError:
        return json.dumps(value)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine, with SQLite configured for concurrent use."""
    if not url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            pool_pre_ping=True,
            json_serializer=_json_text,
            # Milliseconds, read at connect (so a test may change BUSY_TIMEOUT_MS first).
            connect_args={"server_settings": {"lock_timeout": str(BUSY_TIMEOUT_MS)}},
            **kwargs,
        )
        event.listen(engine.sync_engine, "before_cursor_execute", _refuse_nul)
        return engine
    engine = create_async_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
        json_serializer=_json_text,
    )
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_nul)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred BEGIN that reads and then writes fails with "database is locked" when
        # another writer got in between; IMMEDIATE takes the write lock up front (and waits
        # for it under busy_timeout), which also makes seq allocation follow commit order.
        # Read-only work (the update feeds, socket replay) asks for a plain BEGIN, which WAL
        # lets run beside a writer.
        readonly = conn.get_execution_options().get(READONLY_OPTION, False)
        # query_only makes "read-only" a guarantee: a write in such a session fails rather
        # than quietly taking the write lock. The flag stays on the pooled connection, so it
        # is set only when the connection changes hands between a reader and a writer
        # (setting it each time cost ingest an eighth of its throughput).
        info = conn.connection.info
        if info.get(QUERY_ONLY, False) != readonly:
            conn.exec_driver_sql(f"PRAGMA query_only={'ON' if readonly else 'OFF'}")
            info[QUERY_ONLY] = readonly
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


READONLY_OPTION = "tribune_readonly"
# Key in a SQLite connection's info: whether its query_only pragma is on.
QUERY_ONLY = "tribune_query_only"


def make_sessionmaker(
    engine: AsyncEngine, *, readonly: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions for request and worker transactions; ``readonly`` ones cannot write (SQLite's
    query_only, PostgreSQL's READ ONLY transactions): a GET that writes fails in the tests."""
    if not readonly:
        return async_sessionmaker(engine, expire_on_commit=False)
    options: dict[str, Any] = {READONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return async_sessionmaker(engine.execution_options(**options), expire_on_commit=False)


class LoggedUpdate(NamedTuple):
    """An update as the log holds it: its seq and its frame on each channel (None: unseen)."""

    seq: int
    moderation: str
    presenter: str | None
    public: str | None


# What a transaction committed, by LiveEvent: its updates in seq order, handed to the hub as
# they were written so that no worker reads them back. An empty list says "something was
# committed here, read the log" (a savepoint's updates, a bus message too big to carry them).
Committed = Mapping[int, Sequence[LoggedUpdate]]


class Notifier(Protocol):
    """What a transaction tells after commit: the updates it wrote, by LiveEvent."""

    def notify(self, committed: Committed) -> None: ...


class NullNotifier:
    """For processes that serve no sockets (the CLI): running servers' feeds poll the log."""

    def notify(self, committed: Committed) -> None:
        return None


# Key in Session.info where emit() records, by LiveEvent, the updates to hand on after commit.
PENDING_NOTIFY = "tribune_pending_notify"


def hand_over_after_commit(
    session: AsyncSession, live_event_id: int, updates: Iterable[LoggedUpdate]
) -> None:
    """Record the LiveEvent's new updates (emit's), to be handed to the Notifier after commit.

    Inside a savepoint, what is written may yet be rolled back while the transaction commits
    (and its seqs be taken again): from then on the LiveEvent is named, its updates are not
    carried (None), and the feeds read the log.
    """
    pending: dict[int, list[LoggedUpdate] | None] = session.info.setdefault(PENDING_NOTIFY, {})
    if session.in_nested_transaction():
        pending[live_event_id] = None
    carried = pending.setdefault(live_event_id, [])
    if carried is not None:
        carried.extend(updates)


def notify_after_commit(session: AsyncSession, notifier: Notifier) -> None:
    pending: dict[int, list[LoggedUpdate] | None] = session.info.pop(PENDING_NOTIFY, {})
    if pending:
        notifier.notify({key: updates or [] for key, updates in pending.items()})


class _WriterQueue:
    """This process's writers to one SQLite database, one at a time, in arrival order.

    SQLite has one writer. A writer that finds the lock taken polls for it under busy_timeout,
    sleeping 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between tries: behind a
    transaction that holds it for 80 ms (a thousand ingested posts), a moderator's approve
    would wait about 100 ms more than it must, and behind several, a fresh writer can come
    first. Queued here, the next writer starts as soon as the last one ends.

    Writers in other processes (``tribune serve --workers N``) wait at an OS lock on a file
    beside the database (``_FileTurn``), which the kernel hands over at release: polled,
    SQLite's lock went to ingest's next transaction again and again, and a moderator's approve
    in another worker waited for the whole backlog.
    """

    def __init__(self, path: str | None) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._file_turn = _FileTurn(path) if path else None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            yield  # a transaction inside its own task's: SQLite's lock decides, as before
            return
        held: int | None = None
        try:
            async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000):
                await self._lock.acquire()
                try:
                    held = await self._file_turn.take() if self._file_turn else None
                except BaseException:
                    self._lock.release()
                    raise
        except TimeoutError as exc:
            raise DatabaseBusy("writers queued past the busy timeout") from exc
        self._owner = task
        try:
            yield
        finally:
            self._owner = None
            if held is not None:
                os.close(held)  # closing the file gives its lock back
            self._lock.release()


class _FileTurn:
    """Writers of several processes to one SQLite file, one at a time: an exclusive flock on
    ``<database>-writers``, taken before BEGIN IMMEDIATE and given back after COMMIT.

    A writer that finds it taken announces itself with a shared flock on
    ``<database>-waiting`` while it waits (in a thread: flock blocks). A writer that finds
    someone announced waits in line too rather than take the lock back at once: the kernel
    wakes the waiters when the holder gives it back, and a writer that just committed (ingest,
    batch after batch) would otherwise be first again every time.
    """

    def __init__(self, path: str) -> None:
        self._writers = f"{path}-writers"
        self._waiting = f"{path}-waiting"

    def _open(self, path: str) -> int:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def _nobody_waits(self) -> bool:
        fd = self._open(self._waiting)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True

    async def take(self) -> int:
        """The writers' lock, held by the returned file descriptor (close it to give it back)."""
        fd = self._open(self._writers)
        try:
            if self._nobody_waits():
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
        except BlockingIOError:
            pass
        except BaseException:
            os.close(fd)
            raise
        await self._wait_in_line(fd)
        return fd

    async def _wait_in_line(self, fd: int) -> None:
        """Wait for the lock on ``fd``, announced; on failure ``fd`` is closed (at once, or
        once the waiting thread has the lock, which closing gives back)."""
        try:
            waiting = self._open(self._waiting)
        except BaseException:
            os.close(fd)
            raise
        try:
            # Blocks only while another writer's _nobody_waits holds it: a moment.
            fcntl.flock(waiting, fcntl.LOCK_SH)
            locked = asyncio.get_running_loop().run_in_executor(
                None, fcntl.flock, fd, fcntl.LOCK_EX
            )
        except BaseException:
            os.close(fd)
            os.close(waiting)
            raise
        try:
            await asyncio.shield(locked)
        except BaseException:
            # Given up (the busy timeout, a cancel) while the thread still waits.
            locked.add_done_callback(lambda _: os.close(fd))
            raise
        finally:
            os.close(waiting)


# Per engine (its pool) and event loop: an asyncio lock belongs to one loop.
_WRITERS: weakref.WeakKeyDictionary[
    Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _WriterQueue]
] = weakref.WeakKeyDictionary()


def _engine_of(maker: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    bind = maker.kw.get("bind")
    return bind if isinstance(bind, AsyncEngine) else None


def _writer_queue(maker: async_sessionmaker[AsyncSession]) -> _WriterQueue | None:
    """The queue ``maker``'s sessions wait in: SQLite writers only. Found, not made, on every
    transaction but the first of an engine and loop."""
    bind = _engine_of(maker)
    if bind is None or bind.dialect.name != "sqlite":
        return None
    if bind.get_execution_options().get(READONLY_OPTION, False):
        return None
    pool, loop = bind.sync_engine.pool, asyncio.get_running_loop()
    queues = _WRITERS.get(pool)
    if queues is None:
        queues = _WRITERS[pool] = weakref.WeakKeyDictionary()
    queue = queues.get(loop)
    if queue is None:
        database = bind.url.database
        on_disk = database and database != ":memory:" and not database.startswith("file:")
        queue = queues[loop] = _WriterQueue(database if on_disk else None)
    return queue


def concurrent_writers(maker: async_sessionmaker[AsyncSession]) -> bool:
    """Whether ``maker``'s transactions that write run side by side (PostgreSQL), rather than
    one at a time (SQLite has one writer)."""
    bind = _engine_of(maker)
    return bind is not None and bind.dialect.name == "postgresql"


@asynccontextmanager
async def unit_of_work(
    maker: async_sessionmaker[AsyncSession], notifier: Notifier
) -> AsyncIterator[AsyncSession]:
    """One worker transaction: commit on success, roll back on error, notify after commit."""
    queue = _writer_queue(maker)
    async with queue.turn() if queue else contextlib.nullcontext(), maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            session.info.pop(PENDING_NOTIFY, None)
            raise
        notify_after_commit(session, notifier)


# Requests that change nothing (HTTP's safe methods): their sessions only read.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commit when the handler returns, roll back when it raises.

    After the commit, updates the services emitted are handed to the hub (never before: a
    rolled-back change must not reach a screen). A GET reads only: on SQLite its transaction
    reads beside the writer (WAL) instead of queueing for the write lock, so a moderator's
    list never waits for a thousand posts being stored.
    """
    state = request.app.state
    reading = request.method in READING_METHODS
    maker = state.read_sessionmaker if reading else state.sessionmaker
    async with unit_of_work(maker, state.notifier) as session:
        yield session


# scope="function": commit before the response is sent, so a 200 means "stored".
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
