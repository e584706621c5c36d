"""Fan-out to the audience: N public sockets on one Tribune worker, against a bare
``websockets.broadcast()`` server measured in the same run, with the same process layout.

Each server runs in a process of its own, pinned to one core; this process, the load generator,
is pinned to the other. Tribune is the real app (``create_app``) served by uvicorn with
``app.serving.uvicorn_options``, as ``tribune serve`` runs it, on SQLite by default. Updates are
written through the real service path inside the server process: ``questions.service.edit`` of
the question on air (or of answered ones, for bursts) in a ``unit_of_work`` whose notifier is the
app's, so they reach the sockets through the same hub and feeds as a moderator's action. The bare
server broadcasts a frame of the same shape and size, one per update. Both stamp each update's
text with the time it was produced (before Tribune's transaction), and the clients measure the
delay to receipt.

Phases, for each server:

- connect N idle sockets: server memory (VmRSS) per connection;
- steady: --updates, one per tick, at --rate ticks a second: latency p50/p99, and the server's
  CPU time per delivery, i.e. the deliveries per second one core sustains;
- flat out: --updates again, one per transaction, as fast as the server takes them: item
  deliveries per second of wall time, and frames (Tribune coalesces what piles up);
- burst: --burst updates per tick, one transaction each: item deliveries per second;
- --slow-fraction: that share of clients stops reading; a flood fills what they do not read,
  then the steady phase again: the others' p99, the server's memory per slow client;
- --reconnect-storm: every client drops, --storm-updates go on meanwhile, and all come back
  with realtime.js's backoff (first retry after 0.5-1 s) and resume from their seq.

    .venv/bin/python bench/fanout.py [--clients 10000] [--updates 50] [--rate 2] [--burst 50]
        [--slow-fraction 0.01] [--reconnect-storm]
    .venv/bin/python bench/fanout.py --redis [--clients 10000]

``--redis`` compares one worker on PostgreSQL with two workers sharing Redis (clients split
across them, updates written through the first), on a database the run creates and drops.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import signal
import socket
import statistics
import tempfile
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, cast

import asyncpg
import uvicorn
import uvloop
from fastapi import FastAPI
from sqlalchemy import select
from websockets.asyncio.server import ServerConnection, broadcast, serve

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role, User
from app.config import get_settings
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.main import create_app
from app.questions import service as questions
from app.questions.models import Origin
from app.questions.schemas import QuestionEdit
from app.questions.states import Action
from app.realtime import service as realtime
from app.realtime.models import Update
from app.serving import uvicorn_options

SLUG = "bench"
SECRET = "bench-only-secret-0123456789abcdef"  # noqa: S105 - a throwaway database
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379"
# Sockets the load generator opens at once when it sets up: a benchmark's ramp, not a storm.
CONNECT_CONCURRENCY = 256
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Each update's text ends with " t=<unix time>": when it was produced.
STAMP = b" t="


# --- Process plumbing --------------------------------------------------------------------------


def pin(core: int) -> None:
    """Run this process on one core, when the machine has several."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[core % len(cores)]})


def raise_nofile() -> int:
    """Allow as many open files as the hard limit: one per socket."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return int(hard)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of these processes (all their threads) so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime and stime (stat fields 14, 15)
    return ticks / CLK_TCK


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def obey(conn: Connection, handlers: dict[str, Callable[..., Awaitable[Any]]]) -> None:
    """Run the load generator's commands one at a time; send back each result (or error)."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def readable() -> None:
        try:
            inbox.put_nowait(conn.recv())
        except EOFError:  # the load generator is gone: so are we
            loop.remove_reader(conn.fileno())
            os.kill(os.getpid(), signal.SIGTERM)

    loop.add_reader(conn.fileno(), readable)
    while True:
        command, args = await inbox.get()
        try:
            conn.send(await handlers[command](**args))
        except Exception as exc:
            traceback.print_exc()
            conn.send(RuntimeError(f"{command} failed in the server: {exc!r}"))


async def pace(started: float, tick: int, rate: float) -> None:
    """Sleep until tick ``tick`` is due at ``rate`` ticks a second (0: yield once)."""
    if rate <= 0:
        await asyncio.sleep(0)
        return
    await asyncio.sleep(max(0.0, started + tick / rate - time.monotonic()))


# --- The Tribune server process ----------------------------------------------------------------


def run_tribune(conn: Connection, env: dict[str, str], port: int, core: int) -> None:
    """``tribune serve``'s app and uvicorn options, with the bench's publisher beside it."""
    pin(core)
    raise_nofile()
    os.environ.update(env)
    settings = get_settings()

    async def publisher(app: FastAPI) -> None:
        async def publish(count: int, rate: float, burst: int, question_ids: list[int]) -> None:
            maker, notifier = app.state.sessionmaker, app.state.notifier
            started = time.monotonic()
            done = tick = 0
            while done < count:
                n = min(burst, count - done)
                stamp = time.time()
                async with unit_of_work(maker, notifier) as session:
                    actor = await session.scalar(select(User).where(User.username == "bench"))
                    if actor is None:
                        raise RuntimeError("the bench user is missing")
                    for i in range(n):
                        edit = QuestionEdit(text=f"Bench update {done + i} t={stamp:.6f}")
                        question_id = question_ids[i % len(question_ids)]
                        await questions.edit(session, question_id, edit, actor)
                done += n
                tick += 1
                await pace(started, tick, rate)

        await obey(conn, {"publish": publish})

    app = create_app(settings, run_sources=False, background=[publisher])
    uvicorn.run(app, host="127.0.0.1", port=port, **uvicorn_options(settings.log_level))


# --- The bare server process -------------------------------------------------------------------


def run_bare(conn: Connection, template: str, port: int, core: int) -> None:
    """websockets' own asyncio server and broadcast(), on uvloop as uvicorn runs Tribune."""
    pin(core)
    raise_nofile()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(bare_main(conn, template, port))


async def bare_main(conn: Connection, template: str, port: int) -> None:
    clients: set[ServerConnection] = set()
    seq = 0

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            await ws.send(json.dumps({"seq": seq, "type": "hello"}, separators=(",", ":")))
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async def publish(count: int, rate: float, burst: int, question_ids: list[int]) -> None:
        nonlocal seq
        body = json.loads(template)
        started = time.monotonic()
        done = tick = 0
        while done < count:
            n = min(burst, count - done)
            stamp = time.time()
            for i in range(n):
                seq += 1
                body["seq"] = seq
                body["question"]["text"] = f"Bench update {done + i} t={stamp:.6f}"
                broadcast(clients, json.dumps(body, separators=(",", ":"), ensure_ascii=False))
            done += n
            tick += 1
            await pace(started, tick, rate)

    # Served as Tribune is: no compression, the same listen backlog; pings every 20 s, as
    # uvicorn's defaults.
    backlog = uvicorn_options(ws_deflate=False)["backlog"]
    async with serve(
        handler, "127.0.0.1", port, compression=None, max_size=64 * 1024, backlog=backlog
    ):
        await obey(conn, {"publish": publish})


# --- The load generator's sockets --------------------------------------------------------------

HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


class Client(asyncio.Protocol):
    """One audience socket, as lean as a client can be so that the load generator's one core
    keeps up with a server: a minimal frame parser, no task, no JSON decoding. It reads
    single updates and batches (a JSON array) alike: every " t=" stamp is one update."""

    def __init__(self, gen: "LoadGen", port: int, after: int) -> None:
        loop = asyncio.get_running_loop()
        self.gen = gen
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.handshaken = False
        self.up: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int] = loop.create_future()
        self.seq = after
        self.items = 0
        self.counted = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.up.done():
            self.up.set_exception(ConnectionError(f"lost before hello: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(1006)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.buffer:
            data, self.buffer = self.buffer + data, b""
        if not self.handshaken:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.up.set_exception(ConnectionError(data[: data.find(b"\r\n")].decode()))
                self.drop()
                return
            self.handshaken = True
            data = data[end + 4 :]
        size, offset = len(data), 0
        while size - offset >= 2:
            opcode, length, start = data[offset] & 0x0F, data[offset + 1] & 0x7F, offset + 2
            if length == 126:
                length, start = int.from_bytes(data[offset + 2 : offset + 4]), offset + 4
            elif length == 127:
                length, start = int.from_bytes(data[offset + 2 : offset + 10]), offset + 10
            if start + length > size:
                break
            payload, offset = data[start : start + length], start + length
            if opcode == 1:
                self.message(payload, now)
            elif opcode == 9 and self.transport is not None:  # a ping: pong, masked (zero key)
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif opcode == 8:
                if not self.closed.done():
                    self.closed.set_result(int.from_bytes(payload[:2]) if payload else 1005)
                self.drop()
                return
        if offset < size:
            self.buffer = data[offset:]

    def message(self, payload: bytes, now: float) -> None:
        gen = self.gen
        gen.frames += 1
        head = payload.rfind(b'{"seq":')  # the last update's, in a batch
        if head >= 0:
            self.seq = max(self.seq, int(payload[head + 7 : payload.index(b",", head)]))
        at = payload.find(STAMP)
        if at < 0:
            if not self.up.done() and b'"type":"hello"' in payload:
                self.up.set_result(None)
            return
        while at >= 0:
            end = payload.index(b'"', at)
            stamp = payload[at + 3 : end]
            latency = now - float(stamp)
            gen.latencies.append(latency)
            if gen.by_server is not None:  # --redis: which worker's clients, and who was first
                gen.by_server.setdefault(self.port, []).append(latency)
                key = (self.port, stamp)
                if latency < gen.firsts.get(key, latency + 1):
                    gen.firsts[key] = latency
            self.items += 1
            at = payload.find(STAMP, end)
        gen.last_receipt = now
        if not self.counted and self.items >= gen.target:
            self.counted = True
            gen.one_caught_up()

    def stop_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def _open(loop: asyncio.AbstractEventLoop, client: Client, port: int, path: str) -> None:
    """Connect, shake hands and wait for the hello."""
    await loop.create_connection(lambda: client, "127.0.0.1", port)
    if client.transport is None:
        raise ConnectionError("no transport")
    client.transport.write(HANDSHAKE.format(path=path, port=port).encode())
    await asyncio.wait_for(asyncio.shield(client.up), 30)


@dataclass
class LoadGen:
    port_of: Callable[[int], int]  # which server a client index talks to
    path: str
    clients: list[Client] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    frames: int = 0
    last_receipt: float = 0.0
    target: int = 0
    waiting: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # With --redis: each server's clients' latencies, and each update's first receipt per
    # server (port, stamp), so the Redis hop shows apart from the fan-out behind it.
    by_server: dict[int, list[float]] | None = None
    firsts: dict[tuple[int, bytes], float] = field(default_factory=dict)

    async def connect(self, index: int, after: int, delay: float = 0.0) -> Client:
        """Open socket ``index``, resuming after ``after``, and wait for its hello; retry as
        realtime.js does (backoff with jitter) when refused or dropped."""
        await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        port = self.port_of(index)
        wait = 1.0
        while True:
            client = Client(self, port, after)
            try:
                await _open(loop, client, port, f"{self.path}?after={after}")
                return client
            except (OSError, TimeoutError):  # ConnectionError is an OSError
                client.drop()
                await asyncio.sleep(wait * (0.5 + random.random() / 2))
                wait = min(wait * 2, 15)

    async def connect_all(self, n: int, after: int) -> float:
        started = time.perf_counter()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(i: int) -> Client:
            async with gate:
                return await self.connect(i, after)

        self.clients = list(await asyncio.gather(*(one(i) for i in range(n))))
        return time.perf_counter() - started

    def expect(self, items: int, readers: Sequence[Client]) -> None:
        """A new phase: each of ``readers`` should receive ``items`` more updates."""
        self.latencies, self.frames, self.last_receipt = [], 0, 0.0
        if self.by_server is not None:
            self.by_server, self.firsts = {}, {}
        self.target, self.waiting = items, len(readers)
        self.done = asyncio.Event()
        reading = {id(client) for client in readers}
        for client in self.clients:
            client.items = 0
            client.counted = id(client) not in reading
        if not readers:
            self.done.set()

    def one_caught_up(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.done.set()

    def close(self) -> None:
        for client in self.clients:
            client.drop()
        self.clients = []


# --- The servers, seen from here ---------------------------------------------------------------


@dataclass
class Server:
    processes: list[BaseProcess]
    controls: list[Connection]
    ports: list[int]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def rss(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids)

    async def call(self, command: str, **args: Any) -> Any:
        """Run a command in the first server process (the one that publishes)."""
        self.controls[0].send((command, args))
        result = await asyncio.to_thread(self.controls[0].recv)
        if isinstance(result, Exception):
            raise result
        return result

    async def ready(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        for port in self.ports:
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    await writer.wait_closed()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(60)
            if process.is_alive():
                process.kill()
                process.join()


@contextlib.contextmanager
def running(target: Callable[..., None], per_process: list[tuple[Any, ...]]) -> Iterator[Server]:
    """Server processes (``target(control, *args)``, args ending with port and core)."""
    context = multiprocessing.get_context("spawn")
    server = Server([], [], [])
    try:
        for args in per_process:
            ours, theirs = context.Pipe()
            process = context.Process(target=target, args=(theirs, *args), daemon=True)
            process.start()
            server.processes.append(process)
            server.controls.append(ours)
            server.ports.append(int(args[-2]))
        yield server
    finally:
        server.stop()


# --- Phases ------------------------------------------------------------------------------------


@dataclass
class Figures:
    connect_s: float = 0.0
    rss_kib: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us: float = 0.0
    per_core: float = 0.0
    flat_items_s: float = 0.0
    flat_frames: int = 0
    burst_items_s: float = 0.0
    burst_frames: int = 0
    burst_p99_ms: float = 0.0
    slow_p99_ms: float = 0.0
    slow_kib: float = 0.0
    storm_s: float = 0.0
    storm_resumed: int = 0
    # The steady phase per server (by port, in the servers' order): its clients' p50 and p99,
    # and the p50 and p99 of each update's first receipt among them (ms).
    servers: list[tuple[float, float, float, float]] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Outcome:
    latencies_ms: list[float]
    seconds: float  # from the first update produced to the last one received
    cpu: float  # the servers' CPU seconds meanwhile
    frames: int


async def phase(
    gen: LoadGen,
    server: Server,
    readers: Sequence[Client],
    *,
    count: int,
    rate: float,
    burst: int,
    question_ids: list[int],
    within: float = 300,
) -> Outcome:
    """Publish, and wait until every reader has every update."""
    gen.expect(count, readers)
    cpu_before = cpu_seconds(server.pids)
    started = time.time()
    await server.call("publish", count=count, rate=rate, burst=burst, question_ids=question_ids)
    try:
        await asyncio.wait_for(gen.done.wait(), within)
    except TimeoutError:
        print(f"  ! {gen.waiting} of {len(readers)} readers still lack some of {count} updates")
    cpu = cpu_seconds(server.pids) - cpu_before
    latencies = [seconds * 1000 for seconds in gen.latencies]
    return Outcome(latencies, max(gen.last_receipt - started, 1e-9), cpu, gen.frames)


async def measure(
    server: Server, args: argparse.Namespace, seed: "Seed", path: str, *, resumes: bool
) -> Figures:
    """Every phase against one server; prints as it goes."""
    figures = Figures()
    await server.ready()
    ports = server.ports
    gen = LoadGen(lambda i: ports[i % len(ports)], path)
    if len(ports) > 1:
        gen.by_server = {}
    n = args.clients
    # Warm up (first-connection costs, caches), then measure memory from an idle baseline.
    await gen.connect_all(min(50, n), seed.last_seq)
    gen.close()
    await asyncio.sleep(1.0)
    rss_before = server.rss()
    figures.connect_s = await gen.connect_all(n, seed.last_seq)
    await asyncio.sleep(2.0)
    rss_after = server.rss()
    figures.rss_kib = (rss_after - rss_before) / n
    print(
        f"  connected {n} in {figures.connect_s:.1f} s; RSS {rss_before / 1024:.0f} → "
        f"{rss_after / 1024:.0f} MiB: {figures.rss_kib:.1f} KiB per idle connection"
    )
    on_air = [seed.on_air]
    out = await phase(
        gen, server, gen.clients, count=args.updates, rate=args.rate, burst=1, question_ids=on_air
    )
    figures.p50_ms = percentile(out.latencies_ms, 0.5)
    figures.p99_ms = percentile(out.latencies_ms, 0.99)
    figures.cpu_us = out.cpu / max(len(out.latencies_ms), 1) * 1e6
    figures.per_core = 1e6 / figures.cpu_us if figures.cpu_us else 0.0
    if gen.by_server is not None:
        for port in ports:
            own = [seconds * 1000 for seconds in gen.by_server.get(port, [])]
            first = [seconds * 1000 for (at, _), seconds in gen.firsts.items() if at == port]
            figures.servers.append(
                (
                    percentile(own, 0.5),
                    percentile(own, 0.99),
                    percentile(first, 0.5),
                    percentile(first, 0.99),
                )
            )
    print(
        f"  steady, {args.rate:g} updates/s: {len(out.latencies_ms)} deliveries, p50 "
        f"{figures.p50_ms:.1f} ms, p99 {figures.p99_ms:.1f} ms; server CPU "
        f"{figures.cpu_us:.2f} µs per delivery: {figures.per_core:,.0f} deliveries/s of a core"
    )
    if args.flat_out:
        out = await phase(
            gen, server, gen.clients, count=args.updates, rate=0, burst=1, question_ids=on_air
        )
        figures.flat_items_s = len(out.latencies_ms) / out.seconds
        figures.flat_frames = out.frames
        print(
            f"  flat out, one update per transaction: {len(out.latencies_ms)} deliveries in "
            f"{out.frames} frames, {figures.flat_items_s:,.0f} deliveries/s"
        )
    if args.burst > 1:
        out = await phase(
            gen,
            server,
            gen.clients,
            count=args.burst * args.burst_ticks,
            rate=args.burst_rate,
            burst=args.burst,
            question_ids=seed.answered,
        )
        figures.burst_items_s = len(out.latencies_ms) / out.seconds
        figures.burst_frames = out.frames
        figures.burst_p99_ms = percentile(out.latencies_ms, 0.99)
        print(
            f"  bursts, {args.burst_ticks} ticks of {args.burst}: {len(out.latencies_ms)} item "
            f"deliveries in {out.frames} frames, {figures.burst_items_s:,.0f} item "
            f"deliveries/s, p99 {figures.burst_p99_ms:.0f} ms"
        )
    if args.slow_fraction > 0:
        slow = gen.clients[: max(1, int(n * args.slow_fraction))]
        for client in slow:
            client.stop_reading()
        readers = gen.clients[len(slow) :]
        rss_before = server.rss()
        # A flood fills what the slow ones do not read; then the steady load again.
        await phase(
            gen,
            server,
            readers,
            count=args.burst * args.slow_ticks,
            rate=args.burst_rate,
            burst=args.burst,
            question_ids=seed.answered,
        )
        out = await phase(
            gen, server, readers, count=args.updates, rate=args.rate, burst=1, question_ids=on_air
        )
        figures.slow_p99_ms = percentile(out.latencies_ms, 0.99)
        figures.slow_kib = (server.rss() - rss_before) / len(slow)
        print(
            f"  {len(slow)} clients not reading: the others' p99 {figures.slow_p99_ms:.1f} ms; "
            f"server memory {figures.slow_kib:+.0f} KiB per slow client"
        )
    if args.reconnect_storm:
        seqs = [client.seq for client in gen.clients]
        gen.close()  # everyone drops at once (a network blip)
        await server.call("publish", count=args.storm_updates, rate=0, burst=1, question_ids=on_air)
        target = max(seqs) + args.storm_updates
        gen.expect(0, [])
        started = time.perf_counter()
        gen.clients = list(
            await asyncio.gather(
                *(gen.connect(i, seqs[i], 0.5 + random.random() / 2) for i in range(n))
            )
        )
        if resumes:  # and caught up: every missed update replayed
            deadline = time.monotonic() + 120
            while any(c.seq < target for c in gen.clients) and time.monotonic() < deadline:  # noqa: ASYNC110 - 10,000 clients' positions, polled
                await asyncio.sleep(0.05)
        figures.storm_s = time.perf_counter() - started
        figures.storm_resumed = sum(1 for c in gen.clients if c.seq >= target)
        resumed = f"{figures.storm_resumed} resumed to seq {target}" if resumes else "no resume"
        print(f"  reconnect storm: {n} back in {figures.storm_s:.1f} s; {resumed}")
    gen.close()
    return figures


# --- Setup -------------------------------------------------------------------------------------


@dataclass
class Seed:
    on_air: int
    answered: list[int]
    last_seq: int
    template: str  # the public frame of the question on air: the bare server's model


async def seed(url: str, answered: int) -> Seed:
    """A LiveEvent with one question on air and ``answered`` answered ones (all public)."""
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    try:
        maker = make_sessionmaker(engine)
        async with unit_of_work(maker, NullNotifier()) as session:
            user = await accounts.create_user(session, "bench", "bench-password", Role.admin)
            show = await events.create(
                session, LiveEventCreate(slug=SLUG, title="Bench", hashtag="Bench")
            )
            ids = []
            for i in range(answered + 1):
                question = await questions.create(
                    session, show, origin=Origin.audience, source="audience", text=f"Q {i}"
                )
                await questions.act(session, question.id, Action.approve, user)
                await questions.act(session, question.id, Action.on_air, user)
                if i < answered:
                    await questions.act(session, question.id, Action.mark_answered, user)
                ids.append(question.id)
        async with maker() as session:
            last = await session.scalar(select(Update).order_by(Update.seq.desc()).limit(1))
            if last is None or last.public is None:
                raise RuntimeError("the question on air has no public frame")
            return Seed(ids[-1], ids[:-1], last.seq, last.public)
    finally:
        await engine.dispose()


def tribune_env(url: str, redis_url: str = "") -> dict[str, str]:
    return {
        "TRIBUNE_DATABASE_URL": url,
        "TRIBUNE_SECRET_KEY": SECRET,
        "TRIBUNE_REDIS_URL": redis_url,
        "TRIBUNE_LOG_LEVEL": "WARNING",
        # Slow clients fall far behind in the flood; they resume rather than reload.
        "TRIBUNE_RESUME_WINDOW": "1000000",
    }


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A new database on the machine's PostgreSQL, dropped afterwards: its SQLAlchemy URL."""
    name = f"tribune_fanout_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
            yield f"{base}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- Runs --------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


async def compare_with_bare(args: argparse.Namespace, tmp: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    data = await seed(url, max(args.burst, 1))
    core = args.server_core
    print(f"bare websockets.broadcast() server, {args.clients} clients")
    with running(run_bare, [(data.template, free_port(), core)]) as bare:
        theirs = await measure(bare, args, data, "/", resumes=False)
    print(f"tribune (SQLite, one worker), {args.clients} clients")
    path = f"/ws/events/{SLUG}/public"
    with running(run_tribune, [(tribune_env(url), free_port(), core)]) as tribune:
        ours = await measure(tribune, args, data, path, resumes=True)

    # (what, Tribune's figure, bare's, format)
    rows: list[tuple[str, float, float, str]] = [
        ("RSS per idle connection (KiB)", ours.rss_kib, theirs.rss_kib, ".1f"),
        ("connect all (s)", ours.connect_s, theirs.connect_s, ".1f"),
        ("steady p50 (ms)", ours.p50_ms, theirs.p50_ms, ".1f"),
        ("steady p99 (ms)", ours.p99_ms, theirs.p99_ms, ".1f"),
        ("server CPU per delivery (µs)", ours.cpu_us, theirs.cpu_us, ".2f"),
        ("deliveries/s of one core", ours.per_core, theirs.per_core, ",.0f"),
    ]
    if args.flat_out:
        rows += [
            ("flat out: deliveries/s", ours.flat_items_s, theirs.flat_items_s, ",.0f"),
            ("flat out: frames", ours.flat_frames, theirs.flat_frames, ",.0f"),
        ]
    if args.burst > 1:
        rows += [
            ("bursts: item deliveries/s", ours.burst_items_s, theirs.burst_items_s, ",.0f"),
            ("bursts: frames", ours.burst_frames, theirs.burst_frames, ",.0f"),
            ("bursts: p99 (ms)", ours.burst_p99_ms, theirs.burst_p99_ms, ".0f"),
        ]
    if args.slow_fraction > 0:
        rows += [
            ("slow clients: others' p99 (ms)", ours.slow_p99_ms, theirs.slow_p99_ms, ".1f"),
            (
                "  that p99 over the steady p99",
                ours.slow_p99_ms / ours.p99_ms,
                theirs.slow_p99_ms / theirs.p99_ms,
                ".2f",
            ),
            ("slow clients: server KiB each", ours.slow_kib, theirs.slow_kib, "+.0f"),
        ]
    if args.reconnect_storm:
        rows.append(("reconnect storm (s)", ours.storm_s, theirs.storm_s, ".1f"))
    print()
    print(f"{'metric':<34}{'tribune':>14}{'bare':>14}{'ratio':>8}")
    for name, a, b, fmt in rows:
        print(f"{name:<34}{format(a, fmt):>14}{format(b, fmt):>14}{ratio(a, b):>8}")


async def latest_seq(url: str) -> int:
    """The update log's last seq: a round's clients start there, with nothing to replay."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            show = await events.get_by_slug(session, SLUG)
            return await realtime.last_seq(session, show.id)
    finally:
        await engine.dispose()


async def compare_redis(args: argparse.Namespace) -> None:
    """One worker on PostgreSQL against two sharing Redis with the clients split across them;
    updates are written through the first, so half the clients hear of them through Redis.

    ``--rounds`` pairs, each order alternating (one then two, two then one, ...): on a shared
    machine a single pair's difference is mostly drift between its two halves, a minute apart,
    so the figure is the median of the pairs' differences, with its spread."""
    args.burst, args.slow_fraction, args.reconnect_storm, args.flat_out = 1, 0.0, False, False
    path = f"/ws/events/{SLUG}/public"
    core = args.server_core
    pairs: list[tuple[Figures, Figures]] = []
    async with fresh_pg_database() as url:
        data = await seed(url, 1)
        # A channel of its own: the machine's Redis may serve others.
        redis_env = tribune_env(url, REDIS_URL) | {
            "TRIBUNE_REDIS_CHANNEL": f"bench:{uuid.uuid4().hex}"
        }
        for round_ in range(args.rounds):
            figures: dict[int, Figures] = {}
            for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
                data.last_seq = await latest_seq(url)
                if workers == 1:
                    print(f"round {round_ + 1}: one worker on PostgreSQL, {args.clients} clients")
                    layout = [(tribune_env(url), free_port(), core)]
                else:
                    print(
                        f"round {round_ + 1}: two workers on PostgreSQL and Redis, "
                        f"{args.clients} clients split"
                    )
                    # Both on the server core: the same CPU as the one worker had.
                    layout = [(redis_env, free_port(), core) for _ in range(2)]
                with running(run_tribune, layout) as server:
                    figures[workers] = await measure(server, args, data, path, resumes=True)
            pairs.append((figures[1], figures[2]))
    print()
    print(
        f"{'round':<6}{'one p50':>9}{'one p99':>9}{'two p50':>9}{'two p99':>9}{'p99 change':>12}"
        f"{'A p99':>9}{'B p99':>9}{'B - A':>8}{'first p50, A → B':>20}"
    )
    for index, (alone, pair) in enumerate(pairs, 1):
        (_, a99, af50, _), (_, b99, bf50, _) = pair.servers
        print(
            f"{index:<6}{alone.p50_ms:>9.1f}{alone.p99_ms:>9.1f}{pair.p50_ms:>9.1f}"
            f"{pair.p99_ms:>9.1f}{pair.p99_ms - alone.p99_ms:>+12.1f}{a99:>9.1f}{b99:>9.1f}"
            f"{b99 - a99:>+8.1f}{f'{af50:.1f} → {bf50:.1f}':>20}"
        )
    print()
    print(f"over {len(pairs)} pair(s): median (min to max)")
    for name, values in (
        ("two workers' p99 - one worker's (ms)", [b.p99_ms - a.p99_ms for a, b in pairs]),
        ("two workers' p50 - one worker's (ms)", [b.p50_ms - a.p50_ms for a, b in pairs]),
        (
            "server CPU per delivery, two / one",
            [b.cpu_us / a.cpu_us for a, b in pairs if a.cpu_us],
        ),
        # What Redis itself adds: B's clients against A's, in the same run.
        ("B's clients' p99 - A's (ms)", [b.servers[1][1] - b.servers[0][1] for _, b in pairs]),
        (
            "first receipt p50, B - A (ms)",
            [b.servers[1][2] - b.servers[0][2] for _, b in pairs],
        ),
    ):
        sign = "" if "/" in name else "+"  # a ratio is not a change
        spread = f"({min(values):{sign}.2f} to {max(values):{sign}.2f})"
        print(f"  {name:<40}{statistics.median(values):>{sign}9.2f}  {spread}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=50, help="steady updates, one per tick")
    parser.add_argument("--rate", type=float, default=2, help="steady ticks per second")
    parser.add_argument("--no-flat-out", dest="flat_out", action="store_false")
    parser.add_argument("--burst", type=int, default=50, help="updates per tick in bursts")
    parser.add_argument("--burst-ticks", type=int, default=4)
    parser.add_argument("--burst-rate", type=float, default=2, help="burst ticks per second")
    parser.add_argument("--slow-fraction", type=float, default=0.0, help="e.g. 0.01")
    parser.add_argument("--slow-ticks", type=int, default=20, help="burst ticks of flood")
    parser.add_argument("--reconnect-storm", action="store_true")
    parser.add_argument("--storm-updates", type=int, default=10)
    parser.add_argument("--redis", action="store_true")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument(
        "--rounds", type=int, default=3, help="--redis: pairs of runs, one worker and two"
    )
    args = parser.parse_args()
    limit = raise_nofile()
    if args.clients + 100 > limit:
        parser.error(f"--clients {args.clients}: this machine allows {limit} open files")
    pin(args.server_core + 1)
    print(
        f"{len(os.sched_getaffinity(0))} core(s) for the load generator, "
        f"{os.cpu_count()} on the machine; open files allowed: {limit}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.redis:
            await compare_redis(args)
        else:
            await compare_with_bare(args, Path(tmp))


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
