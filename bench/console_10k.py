"""Moderator console with a flood: first paint and keyboard-approve round trip, in Chromium.

Runs the real server (`tribune serve`, SQLite) in a subprocess and drives Debian's Chromium.
The same measurements on a console holding 10 pending questions are the baseline of the same
run, so the ratio says what the flood costs on this (shared, noisy) machine.

    .venv/bin/python bench/console_10k.py [--pending 10000] [--approvals 20]
"""

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright
from sqlalchemy import insert

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.questions.models import Origin, Question
from app.questions.states import Status

CHROMIUM = "/usr/bin/chromium"
# The baseline console: enough questions for the warm-up and measured approvals, no flood.
BASELINE_PENDING = 50
PASSWORD = "bench-password"  # noqa: S105 - a throwaway database


async def seed(url: str, pending: int) -> None:
    engine = make_engine(url)
    try:
        async with unit_of_work(make_sessionmaker(engine), NullNotifier()) as session:
            moderator = await accounts.create_user(session, "bench", PASSWORD, Role.moderator)
            show = await events.create(
                session, LiveEventCreate(slug="flood", title="Flood", hashtag="Flood")
            )
            # Roles are per LiveEvent: the moderator works this one.
            await events.assign(session, show, moderator)
            rows: list[dict[str, Any]] = [
                {
                    "live_event_id": show.id,
                    "origin": Origin.audience,
                    "source": "audience",
                    "author_name": f"Asker {i}",
                    "original_text": f"Question number {i}: what about fees and rates?",
                    "text": f"Question number {i}: what about fees and rates?",
                    "status": Status.pending,
                }
                for i in range(pending)
            ]
            for start in range(0, len(rows), 2000):
                await session.execute(insert(Question), rows[start : start + 2000])
    finally:
        await engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(page: Page, base: str, approvals: int) -> dict[str, float]:
    await page.goto(f"{base}/moderate/flood")
    await page.wait_for_selector("#list-pending li.q")
    timings: dict[str, float] = await page.evaluate(
        """() => {
            const nav = performance.getEntriesByType("navigation")[0];
            const fcp = performance.getEntriesByName("first-contentful-paint")[0];
            return { fcp: fcp ? fcp.startTime : NaN, listed: performance.now(),
                     html: nav.responseEnd - nav.requestStart };
        }"""
    )
    await page.wait_for_selector("#conn[data-state=live]")
    await page.keyboard.press("j")
    trips = []
    for _ in range(approvals):
        # The selection moves to the next incoming question once the server has answered.
        await page.wait_for_selector("#list-pending li.q.selected")
        trip = await page.evaluate(
            """() => new Promise((resolve) => {
                const id = document.querySelector("#list-pending li.q.selected").dataset.id;
                const queue = document.getElementById("list-approved");
                const start = performance.now();
                const seen = () => queue.querySelector(`li[data-id="${id}"]`);
                setTimeout(() => resolve(NaN), 10000);
                const observer = new MutationObserver(() => {
                    if (seen()) { observer.disconnect(); resolve(performance.now() - start); }
                });
                observer.observe(queue, { childList: true, subtree: true });
                const key = new KeyboardEvent("keydown", { key: "a", bubbles: true });
                document.body.dispatchEvent(key);
            })"""
        )
        trips.append(float(trip))
    timings["approve_median"] = statistics.median(trips)
    timings["approve_p95"] = sorted(trips)[max(0, int(len(trips) * 0.95) - 1)]
    return timings


async def run_case(pending: int, approvals: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        await seed(url, pending)
        port = free_port()
        env = {
            **os.environ,
            "TRIBUNE_DATABASE_URL": url,
            "TRIBUNE_LOG_LEVEL": "WARNING",
            "TRIBUNE_SECRET_KEY": "bench-only-secret-0123456789abcdef",
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "serve", "--port", str(port), env=env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(100):
                    try:
                        await client.get(f"{base}/login")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                page = await (
                    await browser.new_context(viewport={"width": 1920, "height": 1080})
                ).new_page()
                await page.goto(f"{base}/login?next=/admin")
                await page.get_by_label("Username").fill("bench")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Log in").click()
                await page.wait_for_url("**/admin")
                await measure(page, base, 3)  # warm caches, then the real run
                result = await measure(page, base, approvals)
                await browser.close()
                return result
        finally:
            server.terminate()
            await server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--approvals", type=int, default=20)
    args = parser.parse_args()
    started = time.monotonic()
    baseline = await run_case(BASELINE_PENDING, args.approvals)
    flood = await run_case(args.pending, args.approvals)
    print(f"console benchmark ({time.monotonic() - started:.0f} s), ms:")
    print(
        f"{'metric':<22}{f'{BASELINE_PENDING} pending':>14}{f'{args.pending} pending':>18}"
        f"{'ratio':>9}"
    )
    for key, label in (
        ("html", "HTML response"),
        ("fcp", "first paint (FCP)"),
        ("listed", "list rendered"),
        ("approve_median", "approve median"),
        ("approve_p95", "approve p95"),
    ):
        ratio = flood[key] / baseline[key]
        print(f"{label:<22}{baseline[key]:>14.1f}{flood[key]:>18.1f}{ratio:>9.2f}")


if __name__ == "__main__":
    asyncio.run(main())
