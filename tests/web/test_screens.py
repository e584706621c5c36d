"""Screenshots of the three screens, from a realistic moment of the demo chat, at 1920x1080
and 390x844. They land in docs/screenshots/, which the README shows."""

import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import make_sessionmaker, unit_of_work
from app.demo import DEMO_RECORDING
from app.ingest.models import IngestSource
from app.ingest.runner import play
from app.ingest.sources.replay import ReplayConfig, ReplaySource
from app.triage.rules import SameLinkWatch
from app.triage.stage import triage_batch
from tests.conftest import Actor, LiveServer, RecordingNotifier
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": (1920, 1080), "phone": (390, 844)}


async def replay_head(
    maker: async_sessionmaker[AsyncSession], live_event_id: int, tmp_path: Path, lines: int
) -> None:
    recording = tmp_path / "head.jsonl"
    with DEMO_RECORDING.open(encoding="utf-8") as source:
        recording.write_text("".join(itertools.islice(source, lines)), encoding="utf-8")
    config = ReplayConfig(path=str(recording), speed=10_000)
    async with unit_of_work(maker, RecordingNotifier()) as session:
        row = IngestSource(live_event_id=live_event_id, kind="replay", config=config.model_dump())
        session.add(row)
        await session.flush()
        source_id = row.id
    await play(ReplaySource(config), source_id, maker, RecordingNotifier())


async def triage_all(engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]) -> None:
    """What the server's triage stage does within a second of ingest: every question triaged."""
    read_maker = make_sessionmaker(engine, readonly=True)
    watch = SameLinkWatch()
    while await triage_batch(read_maker, maker, RecordingNotifier(), watch):
        pass


async def test_screenshots_of_the_three_screens(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
    moderator: Actor,
    spokesperson: Actor,
    engine: AsyncEngine,
    maker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    # The brand answers as @AuroraBank in the recording: its own posts are not questions.
    renamed = await http.patch(
        "/api/v1/events/ask-test",
        json={
            "answering_handle": "AuroraBank",
            "hashtags": ["AskAurora"],
            "title": "#AskAurora with Claire Martin",
        },
        headers=admin.headers,
    )
    assert renamed.status_code == 200, renamed.text
    await replay_head(maker, live_event["id"], tmp_path, 40)
    await triage_all(engine, maker)
    # The moderator takes the questions triage found (complaints went to the desk, spam out).
    page = (
        await http.get(
            "/api/v1/events/ask-test/questions?status=pending&limit=40&category=question",
            headers=moderator.headers,
        )
    ).json()["items"]
    q = "/api/v1/questions"

    def asking(word: str) -> dict[str, Any]:
        return next(item for item in page if word in item["text"].lower())

    cap, branches = asking("transfer"), asking("branches")
    rest = [item for item in page if item not in (cap, branches)]
    for item in (cap, branches, *rest[:6]):
        await http.post(f"{q}/{item['id']}/approve", headers=moderator.headers)
    for item, answer in (
        (cap, "Yes: up to €10,000 a day in the app, more on request."),
        (branches, "14 branches merge in 2027; none closes without an advisor within 10 km."),
    ):
        await http.post(f"{q}/{item['id']}/on-air", headers=spokesperson.headers)
        await http.post(
            f"{q}/{item['id']}/answers", json={"text": answer}, headers=spokesperson.headers
        )
    await http.post(f"{q}/{rest[0]['id']}/on-air", headers=spokesperson.headers)
    await http.post(f"{q}/{rest[7]['id']}/reject", headers=moderator.headers)
    await http.patch(
        f"{q}/{rest[8]['id']}",
        json={"note": "Ask Claire: the new savings rates are out on Monday"},
        headers=moderator.headers,
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        moderation = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test", viewport)
        presenter = await logged_in(
            browser, live_server.url, "claire", "/present/ask-test", viewport
        )
        context = await browser.new_context(
            base_url=live_server.url, viewport={"width": viewport[0], "height": viewport[1]}
        )
        audience = await context.new_page()
        await audience.goto("/live/ask-test")
        for name, screen in (("moderate", moderation), ("present", presenter), ("live", audience)):
            await expect(screen.locator("#conn")).to_have_text("● live")
            await screen.screenshot(path=SCREENSHOTS / f"{name}-{size}.png")
        # Nothing on the phone-sized audience page scrolls sideways.
        width = await audience.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport[0]
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 6
