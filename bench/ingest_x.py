"""X ingest, end to end: sandbox filtered stream → tweepy → parse → normalise → dedup → store →
the moderator's socket. Two figures, each with a same-run baseline:

- throughput: posts/s for a burst of N posts through the stream, against the same posts
  through the replay source (the same pipeline without the network);
- latency at 250 posts/s (X's stream rate): publish-to-moderator-socket p50/p99, against an
  audience question posted to the API (no X in the path).

Tribune (`tribune serve`) and the sandbox X API (`tribune sandbox`) run as subprocesses on
127.0.0.1; this process publishes posts and reads the moderation socket.

    .venv/bin/python bench/ingest_x.py [--burst 20000] [--rate 250] [--seconds 10]
"""

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.realtime.schemas import CLOSE_LAGGING

BASE_ID = 1_950_000_000_000_000_000
SECRET = "bench-only-secret-0123456789abcdef"  # noqa: S105 - a throwaway database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(i: int, tag: str, sent: float | None = None) -> dict[str, Any]:
    post_id = str(BASE_ID + i)
    stamp = f" t={sent:.6f}" if sent is not None else ""
    return {
        "data": {
            "id": post_id,
            "text": f"Question {i} on fees #{tag}{stamp}",
            "author_id": str(5_000_000 + i % 500),
            "created_at": "2026-12-03T18:00:00.000Z",
            "lang": "en",
            "conversation_id": post_id,
            "edit_history_tweet_ids": [post_id],
        },
        "includes": {
            "users": [
                {
                    "id": str(5_000_000 + i % 500),
                    "username": f"u{i % 500}",
                    "name": f"User {i % 500}",
                }
            ]
        },
        "matching_rules": [],
    }


async def seed(url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    try:
        async with unit_of_work(make_sessionmaker(engine), NullNotifier()) as session:
            user = await accounts.create_user(session, "bench", "bench-password", Role.admin)
            return await accounts.create_api_token(session, user, "bench")
    finally:
        await engine.dispose()


@asynccontextmanager
async def process(args: list[str], env: dict[str, str], ready: str) -> AsyncIterator[None]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", *args, env=env)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    await client.get(ready)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield
    finally:
        proc.terminate()
        await proc.wait()


class Moderator:
    """The moderation socket as a page uses it: it resumes from its last seq when the server
    drops it for reading too slowly (close code 4008)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers, self.seq, self.resumes = url, headers, 0, 0
        self.ws: Any = None
        # Updates read together come as one message, a JSON array: handed out one by one.
        self.unread: list[dict[str, Any]] = []

    async def open(self) -> None:
        self.unread = []
        self.ws = await connect(
            f"{self.url}?after={self.seq}", additional_headers=self.headers, max_queue=None
        )
        await self.ws.recv()  # hello

    async def recv(self) -> dict[str, Any]:
        while True:
            if not self.unread:
                try:
                    data = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
                except ConnectionClosed as closed:
                    if closed.rcvd is None or closed.rcvd.code != CLOSE_LAGGING:
                        raise
                    self.resumes += 1
                    await self.open()
                    continue
                self.unread = data if isinstance(data, list) else [data]
            message = self.unread.pop(0)
            if message["type"] not in ("hello", "heartbeat"):
                self.seq = max(self.seq, int(message["seq"]))
            return message

    async def close(self) -> None:
        await self.ws.close()


async def wait_questions(ws: Moderator, expected: int, texts: dict[int, float]) -> float:
    """Read the moderation socket until ``expected`` new questions arrived; when the last did."""
    seen = 0
    last = time.perf_counter()
    while seen < expected:
        message = await ws.recv()
        if message["type"] != "question" or message["question"]["status"] != "pending":
            continue
        seen += 1
        last = time.perf_counter()
        text = message["question"]["text"]
        if " t=" in text:
            texts[message["question"]["id"]] = time.time() - float(text.rsplit(" t=", 1)[1])
    return last


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        token = await seed(url)
        headers = {"Authorization": f"Bearer {token}"}
        x_port, t_port = free_port(), free_port()
        x_url, t_url = f"http://127.0.0.1:{x_port}", f"http://127.0.0.1:{t_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUNE_")}
        env.update(
            {
                "TRIBUNE_DATABASE_URL": url,
                "TRIBUNE_SECRET_KEY": SECRET,
                "TRIBUNE_X_API_BASE_URL": x_url,
                "TRIBUNE_X_BEARER_TOKEN": "sandbox-bearer",
                # A burst outruns one socket (it is dropped and resumes, code 4008);
                # it must resume rather than be told to reload (resync), to count every post.
                "TRIBUNE_RESUME_WINDOW": "1000000",
                "TRIBUNE_LOG_LEVEL": "WARNING",
                # The latency baseline asks 200 audience questions from one client.
                "TRIBUNE_AUDIENCE_QUESTIONS_PER_MINUTE": "100000",
            }
        )
        async with (
            process(["sandbox", "--port", str(x_port)], env, f"{x_url}/_sandbox/stats"),
            process(["serve", "--port", str(t_port)], env, f"{t_url}/login"),
            httpx.AsyncClient(timeout=60) as http,
        ):
            for slug, tag in (("bench-x", "BenchX"), ("bench-replay", "BenchReplay")):
                await http.post(
                    f"{t_url}/api/v1/events",
                    headers=headers,
                    json={"slug": slug, "title": slug, "hashtag": tag},
                )
            await http.post(
                f"{t_url}/api/v1/events/bench-x/sources", headers=headers, json={"kind": "x-stream"}
            )
            for _ in range(100):
                sources = (
                    await http.get(f"{t_url}/api/v1/events/bench-x/sources", headers=headers)
                ).json()
                if sources[0]["status"] == "connected":
                    break
                await asyncio.sleep(0.1)
            ws = Moderator(f"ws://127.0.0.1:{t_port}/ws/events/bench-x/moderation", headers)
            await ws.open()
            # Throughput: a burst through the stream.
            burst = [post(i, "BenchX") for i in range(args.burst)]
            start = time.perf_counter()
            for chunk in range(0, len(burst), 1000):
                await http.post(
                    f"{x_url}/_sandbox/publish", json={"messages": burst[chunk : chunk + 1000]}
                )
            stream_done = await wait_questions(ws, args.burst, {})
            stream_rate = args.burst / (stream_done - start)
            # Latency at X's stream rate.
            latencies: dict[int, float] = {}
            total = int(args.rate * args.seconds)
            reader = asyncio.create_task(wait_questions(ws, total, latencies))
            tick = 1 / 10  # publish in 10 small bursts a second
            offset = args.burst
            for _ in range(int(args.seconds * 10)):
                batch = [post(offset + i, "BenchX", time.time()) for i in range(args.rate // 10)]
                offset += len(batch)
                await http.post(f"{x_url}/_sandbox/publish", json={"messages": batch})
                await asyncio.sleep(tick)
            await reader
            # Baselines: the same pipeline without the network.
            replay_path = Path(tmp) / "burst.jsonl"
            replay_path.write_text(
                "\n".join(json.dumps(post(10**7 + i, "BenchReplay")) for i in range(args.burst))
            )
            stream_resumes = ws.resumes
            await ws.close()
            ws = Moderator(f"ws://127.0.0.1:{t_port}/ws/events/bench-replay/moderation", headers)
            await ws.open()
            start = time.perf_counter()
            replay = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app",
                "replay",
                str(replay_path),
                "--event",
                "bench-replay",
                "--speed",
                "10000",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            replay_done = await wait_questions(ws, args.burst, {})
            await replay.wait()
            replay_rate = args.burst / (replay_done - start)
            api_latencies: list[float] = []
            # As the audience page does: the form's signed public CSRF token.
            csrf = (await http.get(f"{t_url}/api/v1/csrf")).json()["token"]
            for i in range(200):
                sent = time.time()
                asked = await http.post(
                    f"{t_url}/api/v1/events/bench-replay/questions",
                    json={"text": f"Audience {i} t={sent:.6f}"},
                    headers={"X-CSRF-Token": csrf},
                )
                asked.raise_for_status()
                found: dict[int, float] = {}
                await wait_questions(ws, 1, found)
                api_latencies.extend(found.values())
                await asyncio.sleep(1 / args.rate)
    lat = sorted(v * 1000 for v in latencies.values())
    base = sorted(v * 1000 for v in api_latencies)

    def p(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(len(values) * q))]

    print(
        f"X ingest benchmark: burst {args.burst} posts; {args.rate} posts/s for {args.seconds:g} s"
    )
    print(f"{'':34}{'X stream':>12}{'baseline':>12}{'ratio':>8}")
    print(
        f"{'burst throughput (posts/s)':34}{stream_rate:>12.0f}{replay_rate:>12.0f}"
        f"{stream_rate / replay_rate:>8.2f}   (baseline: replay source, no network)"
    )
    print(
        f"{'latency p50 (ms) to moderator':34}{p(lat, 0.5):>12.1f}{p(base, 0.5):>12.1f}"
        f"{p(lat, 0.5) / p(base, 0.5):>8.2f}   (baseline: audience question via the API)"
    )
    print(
        f"{'latency p99 (ms) to moderator':34}{p(lat, 0.99):>12.1f}{p(base, 0.99):>12.1f}"
        f"{p(lat, 0.99) / p(base, 0.99):>8.2f}"
    )
    print(
        f"posts measured for latency: {len(lat)}; audience questions: {len(base)}; "
        f"moderator socket resumes during the stream burst: {stream_resumes}"
    )


if __name__ == "__main__":
    asyncio.run(main())
