"""kill -9 of the Tribune server while 500 posts stream in: after a restart, none lost and none
twice (each batch commits with its cursor; the restart fills the gap from it)."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET, Actor, _free_port
from tests.x.conftest import Sandbox, message, wait_until
from tests.x.test_stream import make_show, pending_count, source_state

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def tribune_process(
    database_url: str, sandbox: Sandbox, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUNE_")}
    env.update(
        {
            "TRIBUNE_DATABASE_URL": database_url,
            "TRIBUNE_SECRET_KEY": TEST_SECRET,
            "TRIBUNE_X_API_BASE_URL": sandbox.url,
            "TRIBUNE_X_BEARER_TOKEN": "sandbox-bearer",
            "TRIBUNE_X_BACKOFF_SCALE": "0.01",
            "TRIBUNE_LOG_LEVEL": "WARNING",
        }
    )
    process = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=ROOT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


async def up(base: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{base}/login")).status_code == 200
    except httpx.TransportError:
        return False


async def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(
    database_url: str, sandbox: Sandbox, admin: Actor
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    total = 500
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        with tribune_process(database_url, sandbox, port) as first:
            await wait_until(lambda: up(base))
            await make_show(http, admin)
            added = await http.post(
                "/api/v1/events/ask-test/sources", json={"kind": "x-stream"}, headers=admin.headers
            )
            assert added.status_code == 201, added.text

            async def connected() -> bool:
                return bool((await source_state(http, admin))["status"] == "connected")

            await wait_until(connected)
            for start in range(0, 200, 25):
                sandbox.publish([message(start + i) for i in range(25)])
                await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        # While Tribune is dead the chat goes on.
        for start in range(200, 350, 25):
            sandbox.publish([message(start + i) for i in range(25)])
        with tribune_process(database_url, sandbox, port):
            await wait_until(lambda: up(base))
            await wait_until(connected)
            for start in range(350, total, 25):
                sandbox.publish([message(start + i) for i in range(25)])
                await asyncio.sleep(0.02)

            async def all_in() -> bool:
                return await pending_count(http, admin) >= total

            await wait_until(all_in, within=30)
            await asyncio.sleep(0.5)
            texts = []
            for offset in (0, 500):
                page = (
                    await http.get(
                        f"/api/v1/events/ask-test/questions?limit=500&offset={offset}",
                        headers=admin.headers,
                    )
                ).json()
                texts += [q["text"] for q in page["items"]]
    assert len(texts) == total, "none lost, none twice"
    assert len(set(texts)) == total
