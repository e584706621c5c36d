"""Ingest throughput through the real pipeline, into SQLite and into PostgreSQL, and the
moderator's latency meanwhile.

For each database, on a fresh database built by the migrations, with a real uvicorn server
(`tribune serve`) on it:

- baseline: the same posts' rows (already parsed and converted) bulk-inserted into a plain table
  (a primary key, no other index or constraint) with the driver's own executemany through the
  same engine, in transactions of the pipeline's batch size: what storing the bytes costs;
- pipeline: the recorded posts (X filtered-stream JSON lines) played by the replay source through
  the runner's ``play``: parse → normalise → ``ingest_posts`` (posts, dedup) → questions →
  update log → commit with the cursor, batched as the backlog allows. Its ratio to the baseline
  is the pipeline's own cost;
- moderator: a separate process drives the real API on the server, as a moderator clears the
  queue: list the 50 oldest pending questions, approve the first, pause (``--think-ms``), again.
  Its p50/p99 are measured idle, then while the pipeline runs in this process (a second worker,
  or ``tribune replay``), then while it runs inside the server itself (a replay source run by the
  server's own runner: the single-worker deployment, ingest and API on one event loop).

Throughput with the server's runner is read from the posts' ``ingested_at`` (one value per
transaction): posts stored after the first transaction, over the time from the first to the last.

    .venv/bin/python bench/ingest.py [--posts 100000] [--databases sqlite,postgresql]
        [--think-ms 20] [--batch N] [--socket]

``--socket`` also holds the moderation socket open in the moderator's process and reads every
frame (resuming from its last seq when the server drops it for lagging), as the console does.
"""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role
from app.config import get_settings
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.heap import settle_heap
from app.ingest.models import IngestSource, Post
from app.ingest.runner import play
from app.ingest.schemas import IngestResult
from app.ingest.sources.replay import ReplayConfig, ReplaySource, read_recording
from app.realtime.schemas import CLOSE_LAGGING

SLUG = "bench"
ANSWERING = "AuroraBank"
SECRET = "bench-only-secret-0123456789abcdef"  # noqa: S105 - a throwaway database
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BASE_ID = 1_960_000_000_000_000_000
# Posts played (untimed) before measuring, so that the moderator has a queue from the start.
WARMUP_POSTS = 2_000
# How long the moderator is measured before any ingest.
IDLE_SECONDS = 3.0


# --- Data ---------------------------------------------------------------------------------------


def message(i: int) -> dict[str, Any]:
    """One filtered-stream message: mostly questions, some naming the answering account, a
    retweet in 25 (stored, never a question), 500 authors."""
    post_id = str(BASE_ID + i)
    author = str(5_000_000 + i % 500)
    mention = f"@{ANSWERING} " if i % 10 == 0 else ""
    data: dict[str, Any] = {
        "id": post_id,
        "text": f"{mention}Question {i} on fees &amp; rates, «ça» — is it final? #AskAurora",
        "author_id": author,
        "created_at": "2026-12-03T18:00:00.000Z",
        "lang": "en",
        "conversation_id": post_id,
        "edit_history_tweet_ids": [post_id],
    }
    if mention:
        data["entities"] = {"mentions": [{"start": 0, "end": 11, "username": ANSWERING}]}
    if i % 25 == 24:
        data["referenced_tweets"] = [{"type": "retweeted", "id": str(BASE_ID - i)}]
    return {
        "data": data,
        "includes": {"users": [{"id": author, "username": f"u{i % 500}", "name": f"User {i}"}]},
        "matching_rules": [{"id": "1", "tag": "tribune:bench"}],
    }


def write_recording(path: Path, start: int, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(start, start + count):
            out.write(json.dumps(message(i)) + "\n")
    return path


# --- Databases ----------------------------------------------------------------------------------


@asynccontextmanager
async def database(kind: str, tmp: Path) -> AsyncIterator[str]:
    """A fresh database built by the migrations; PostgreSQL's is dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
        return
    name = f"tribune_bench_ingest_{os.getpid()}"
    admin = create_async_engine(
        PG_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://"),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}".replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


async def seed(engine: AsyncEngine) -> str:
    """The admin who moderates, and the LiveEvent; the admin's API token."""
    async with unit_of_work(make_sessionmaker(engine), NullNotifier()) as session:
        user = await accounts.create_user(session, "bench", "bench-password", Role.admin)
        await events.create(
            session,
            LiveEventCreate(
                slug=SLUG, title="Bench", hashtag="AskAurora", answering_handle=ANSWERING
            ),
        )
        return await accounts.create_api_token(session, user, "bench")


async def add_source(engine: AsyncEngine, path: Path, *, enabled: bool) -> tuple[int, ReplaySource]:
    config = ReplayConfig(path=str(path), speed=10_000)
    async with unit_of_work(make_sessionmaker(engine), NullNotifier()) as session:
        live_event = await events.get_by_slug(session, SLUG)
        row = IngestSource(
            live_event_id=live_event.id,
            kind=ReplaySource.slug,
            config=config.model_dump(),
            enabled=enabled,
        )
        session.add(row)
        await session.flush()
        return row.id, ReplaySource(config)


# --- Throughput ---------------------------------------------------------------------------------


@dataclass
class Run:
    posts: int
    seconds: float
    batches: int = 0
    questions: int = 0

    @property
    def rate(self) -> float:
        return self.posts / self.seconds


async def pipeline(engine: AsyncEngine, path: Path) -> Run:
    """The recording through ``play``, as a worker runs a source (or `tribune replay` does)."""
    source_id, source = await add_source(engine, path, enabled=False)
    source.max_batch = get_settings().ingest_batch_size  # as registry.build_source sets it
    results: list[IngestResult] = []
    start = time.perf_counter()
    await play(source, source_id, make_sessionmaker(engine), NullNotifier(), results.append)
    seconds = time.perf_counter() - start
    run = Run(sum(r.received for r in results), seconds, len(results))
    run.questions = sum(r.questions for r in results)
    return run


PLAIN = MetaData()
PLAIN_POSTS = Table(
    "bench_plain_posts",
    PLAIN,
    Column("id", Integer, primary_key=True),
    Column("live_event_id", Integer),
    Column("source", String(20)),
    Column("external_id", String(64)),
    Column("author_id", String(64)),
    Column("author_handle", String(64)),
    Column("author_name", String(120)),
    Column("author_avatar_url", String(500)),
    Column("text", Text),
    Column("lang", String(12)),
    Column("posted_at", DateTime(timezone=True)),
    Column("ingested_at", DateTime(timezone=True)),
    Column("mentions_answering_account", Boolean),
    Column("raw", JSON),
)


async def baseline(engine: AsyncEngine, path: Path, batch: int) -> Run:
    """The same posts' rows, parsed and converted beforehand, inserted with the driver's
    executemany into a plain table, one transaction per ``batch`` rows."""
    async with engine.begin() as conn:
        await conn.run_sync(PLAIN.create_all)
    dialect = engine.dialect
    columns = [c for c in PLAIN_POSTS.c if c.name != "id"]
    processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    now = time.time()
    rows = []
    for _, post in read_recording(path, "x"):
        values = [
            1,
            post.source,
            post.external_id,
            post.author_id,
            post.author_handle,
            post.author_name,
            post.author_avatar_url,
            post.text,
            post.lang,
            post.posted_at,
            post.posted_at.fromtimestamp(now, post.posted_at.tzinfo),
            ANSWERING.lower() in post.mentions,
            post.raw,
        ]
        rows.append(
            tuple(v if p is None else p(v) for v, p in zip(values, processors, strict=True))
        )
    names = ", ".join(c.name for c in columns)
    if dialect.name == "postgresql":
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    else:
        marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO bench_plain_posts ({names}) VALUES ({marks})"  # noqa: S608
    start = time.perf_counter()
    for first in range(0, len(rows), batch):
        async with engine.begin() as conn:
            await conn.exec_driver_sql(statement, rows[first : first + batch])
    seconds = time.perf_counter() - start
    async with engine.begin() as conn:
        await conn.run_sync(PLAIN.drop_all)
    return Run(len(rows), seconds, -(-len(rows) // batch))


async def in_server(engine: AsyncEngine, path: Path, posts: int) -> tuple[Run, float, float]:
    """The recording as a replay source the server's own runner plays (it looks for new sources
    every 2 s): the rate from the first transaction's ``ingested_at`` to the last's, and those
    two times (epoch seconds)."""
    source_id, _ = await add_source(engine, path, enabled=True)
    maker = make_sessionmaker(engine)
    while True:
        await asyncio.sleep(0.25)
        async with maker() as session:
            row = await session.get(IngestSource, source_id)
            if row is not None and row.status in ("finished", "stopped", "retrying"):
                if row.status != "finished":
                    raise RuntimeError(f"the server's replay {row.status}: {row.status_detail}")
                break
    async with maker() as session:
        live_event = await events.get_by_slug(session, SLUG)
        query = (
            select(Post.ingested_at, func.count())
            .where(Post.live_event_id == live_event.id)
            .group_by(Post.ingested_at)
            .order_by(Post.ingested_at)
        )
        batches = [(at, int(n)) for at, n in await session.execute(query)]
    # Only this run's transactions: the last ones, which hold ``posts`` posts.
    mine: list[tuple[Any, int]] = []
    total = 0
    for at, n in reversed(batches):
        if total >= posts:
            break
        mine.insert(0, (at, n))
        total += n
    first, last = mine[0][0].timestamp(), mine[-1][0].timestamp()
    return Run(total - mine[-1][1], last - first, len(mine)), first, last


# --- The server and the moderator ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def server(url: str) -> AsyncIterator[str]:
    """`tribune serve` on the database, with its ingest runner; its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUNE_")}
    env.update(
        {
            "TRIBUNE_DATABASE_URL": url,
            "TRIBUNE_SECRET_KEY": SECRET,
            "TRIBUNE_LOG_LEVEL": "WARNING",
            "TRIBUNE_INGEST_BATCH_SIZE": str(get_settings().ingest_batch_size),
            # The moderator's socket resumes rather than reloads when a burst outruns it.
            "TRIBUNE_RESUME_WINDOW": "10000000",
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "serve", "--port", str(port), env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(400):
                try:
                    await client.get(f"{base}/login")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        await proc.wait()


@dataclass
class Moderator:
    """The moderator's process: started, measured, stopped; its samples."""

    proc: asyncio.subprocess.Process
    samples: list[tuple[float, str, float, int]] = field(default_factory=list)
    frames: int = 0
    resumes: int = 0

    @classmethod
    async def start(cls, base: str, token: str, think_ms: float, sock: bool) -> "Moderator":
        args = [__file__, "--moderator", base, "--token", token, "--think-ms", str(think_ms)]

        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            *(["--socket"] if sock else []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        if proc.stdout is None:
            raise RuntimeError("no pipe to the moderator")
        line = await proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"the moderator did not start: {line!r}")
        return cls(proc)

    async def stop(self) -> None:
        out, _ = await self.proc.communicate(b"stop\n")
        report = json.loads(out)
        self.samples = [(at, kind, ms, status) for at, kind, ms, status in report["samples"]]
        self.frames, self.resumes = report["frames"], report["resumes"]

    def between(self, start: float, end: float) -> list[tuple[str, float]]:
        """(request, ms) of the requests sent between two times (epoch seconds)."""
        return [(kind, ms) for at, kind, ms, _ in self.samples if start <= at <= end]

    def errors(self) -> int:
        return sum(1 for *_, status in self.samples if status >= 400)


async def moderate(base: str, token: str, think: float, sock: bool) -> None:
    """The moderator's loop (in its own process): until a line arrives on stdin."""
    headers = {"Authorization": f"Bearer {token}"}
    samples: list[tuple[float, str, float, int]] = []
    counts = {"frames": 0, "resumes": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reader = loop.run_in_executor(None, sys.stdin.readline)
    reader.add_done_callback(lambda _: stop.set())

    async def read_socket() -> None:
        seq = 0
        ws_url = base.replace("http://", "ws://") + f"/ws/events/{SLUG}/moderation"
        while True:
            async with connect(
                f"{ws_url}?after={seq}", additional_headers=headers, max_queue=None
            ) as ws:
                try:
                    async for raw in ws:
                        frame = json.loads(raw)
                        if "seq" in frame:
                            seq = max(seq, int(frame["seq"]))
                            counts["frames"] += 1
                except ConnectionClosed as closed:
                    if closed.rcvd is None or closed.rcvd.code != CLOSE_LAGGING:
                        raise
                    counts["resumes"] += 1

    socket_task = asyncio.create_task(read_socket()) if sock else None
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        ready = False
        while not stop.is_set():
            at, start = time.time(), time.perf_counter()
            response = await http.get(
                f"/api/v1/events/{SLUG}/questions", params={"status": "pending", "limit": 50}
            )
            samples.append((at, "list", (time.perf_counter() - start) * 1000, response.status_code))
            if not ready:
                print("ready", flush=True)
                ready = True
            items = response.json()["items"] if response.status_code == 200 else []
            if items:
                first = items[0]
                at, start = time.time(), time.perf_counter()
                response = await http.post(
                    f"/api/v1/questions/{first['id']}/approve", json={"version": first["version"]}
                )
                elapsed = (time.perf_counter() - start) * 1000
                samples.append((at, "approve", elapsed, response.status_code))
            await asyncio.sleep(think)
    if socket_task is not None:
        socket_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await socket_task
    print(json.dumps({"samples": samples, **counts}))


# --- The run ------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


@dataclass
class Figures:
    baseline: Run
    pipeline: Run
    busy: Run  # the pipeline in this process, with the moderator at work
    served: Run  # the pipeline in the server's runner, with the moderator at work
    # (request, ms) of the moderator's requests: idle, then with each pipeline running.
    idle_ms: list[tuple[str, float]]
    busy_ms: list[tuple[str, float]]
    served_ms: list[tuple[str, float]]
    errors: int
    frames: int
    resumes: int


async def measure(kind: str, posts: int, think_ms: float, sock: bool) -> Figures:
    batch = get_settings().ingest_batch_size
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        recordings = [
            write_recording(tmp / f"{i}.jsonl", start, count)
            for i, (start, count) in enumerate(
                [(0, WARMUP_POSTS)] + [(WARMUP_POSTS + k * posts, posts) for k in range(3)]
            )
        ]
        async with database(kind, tmp) as url:
            engine = make_engine(url)
            try:
                token = await seed(engine)
                async with server(url) as base:
                    await pipeline(engine, recordings[0])  # warm-up, and a queue to moderate
                    base_run = await baseline(engine, recordings[1], batch)
                    alone = await pipeline(engine, recordings[1])
                    moderator = await Moderator.start(base, token, think_ms, sock)
                    await asyncio.sleep(IDLE_SECONDS)
                    t0 = time.time()
                    busy = await pipeline(engine, recordings[2])
                    t1 = time.time()
                    served, served_start, served_end = await in_server(engine, recordings[3], posts)
                    await asyncio.sleep(0.5)
                    await moderator.stop()
                async with make_sessionmaker(engine)() as session:
                    stored = await session.scalar(select(func.count()).select_from(Post))
                if stored != WARMUP_POSTS + 3 * posts:
                    raise RuntimeError(f"{stored} posts stored, {WARMUP_POSTS + 3 * posts} sent")
            finally:
                await engine.dispose()
    return Figures(
        base_run,
        alone,
        busy,
        served,
        moderator.between(t0 - IDLE_SECONDS, t0),
        moderator.between(t0, t1),
        moderator.between(served_start, served_end),
        moderator.errors(),
        moderator.frames,
        moderator.resumes,
    )


def report(posts: int, figures: dict[str, Figures], sock: bool) -> None:
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    print(
        f"Ingest benchmark: {posts:,} posts a run (X stream JSON lines), transactions of up to "
        f"{get_settings().ingest_batch_size:,} posts, {os.cpu_count()} cores; the moderator "
        "lists 50 pending questions and approves one, in a loop"
        + (", its moderation socket open" if sock else "")
    )
    print(f"{'':46}" + "".join(f"{names[k]:>14}" for k in figures))
    print("(moderator latencies: p50 / p99 of every request, then of each kind)")

    def line(label: str, values: list[str]) -> None:
        print(f"{label:46}" + "".join(f"{v:>14}" for v in values))

    def row(label: str, value: Callable[[Figures], str]) -> None:
        line(label, [value(f) for f in figures.values()])

    row("baseline: bare insert, same rows (posts/s)", lambda f: f"{f.baseline.rate:,.0f}")
    row("pipeline (posts/s)", lambda f: f"{f.pipeline.rate:,.0f}")
    row("  ratio to baseline", lambda f: f"{f.pipeline.rate / f.baseline.rate:.2f}")
    row("  transactions", lambda f: f"{f.pipeline.batches}")
    row("pipeline, moderator at work (posts/s)", lambda f: f"{f.busy.rate:,.0f}")
    row("pipeline in the server's runner (posts/s)", lambda f: f"{f.served.rate:,.0f}")
    phases: list[tuple[str, Callable[[Figures], list[tuple[str, float]]]]] = [
        ("moderator, no ingest", lambda f: f.idle_ms),
        ("moderator, ingest in another process", lambda f: f.busy_ms),
        ("moderator, ingest in the server", lambda f: f.served_ms),
    ]

    def p50_p99(samples: list[tuple[str, float]], kind: str | None = None) -> str:
        values = [ms for k, ms in samples if kind in (None, k)]
        return f"{pct(values, 0.5):.0f} / {pct(values, 0.99):.0f}"

    for label, samples in phases:
        line(f"{label} (ms)", [p50_p99(samples(f)) for f in figures.values()])
        for kind in ("list", "approve"):
            line(f"  {kind}", [p50_p99(samples(f), kind) for f in figures.values()])
        line("  requests measured", [f"{len(samples(f))}" for f in figures.values()])
    row("moderator requests that failed", lambda f: f"{f.errors}")
    if sock:
        row("socket frames read (resumes)", lambda f: f"{f.frames:,} ({f.resumes})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--think-ms", type=float, default=20)
    parser.add_argument("--socket", action="store_true")
    parser.add_argument("--batch", type=int, help="TRIBUNE_INGEST_BATCH_SIZE for this run")
    parser.add_argument("--moderator", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.moderator:
        await moderate(args.moderator, args.token, args.think_ms / 1000, args.socket)
        return
    if args.batch:
        os.environ["TRIBUNE_INGEST_BATCH_SIZE"] = str(args.batch)
        get_settings.cache_clear()
    # This process plays the pipeline as a second worker or `tribune replay` would: with the
    # start-up heap frozen, as they freeze theirs.
    settle_heap()
    figures = {}
    for kind in args.databases.split(","):
        figures[kind] = await measure(kind, args.posts, args.think_ms, args.socket)
    report(args.posts, figures, args.socket)


if __name__ == "__main__":
    asyncio.run(main())
