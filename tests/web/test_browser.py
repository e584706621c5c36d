"""The whole loop in real headless Chromium, as people use it: a replayed post reaches the
moderator console live, is approved and sent on air by keyboard, answered from the presenter
view, and shown on the audience page."""

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import unit_of_work
from app.ingest.models import IngestSource
from app.ingest.runner import play
from app.ingest.sources.replay import ReplayConfig, ReplaySource
from tests.conftest import Actor, LiveServer, RecordingNotifier
from tests.web.browser import FIXTURES, logged_in

pytestmark = pytest.mark.browser


async def test_the_whole_loop(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
    spokesperson: Actor,
    maker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    moderation = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    presenter = await logged_in(browser, live_server.url, "claire", "/present/ask-test")
    audience = await (await browser.new_context(base_url=live_server.url)).new_page()
    await audience.goto("/live/ask-test")
    for page in (moderation, presenter, audience):
        await expect(page.locator("#conn")).to_have_text("● live")

    # A post arrives through the replay source while the console is open.
    recording = tmp_path / "one.jsonl"
    recording.write_text(
        (FIXTURES / "note_tweet.json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    config = ReplayConfig(path=str(recording), speed=1000)
    async with unit_of_work(maker, RecordingNotifier()) as session:
        row = IngestSource(
            live_event_id=live_event["id"], kind="replay", config=config.model_dump()
        )
        session.add(row)
        await session.flush()
        source_id = row.id
    await play(ReplaySource(config), source_id, maker, RecordingNotifier())

    incoming = moderation.locator("#list-pending li")
    await expect(incoming).to_have_count(1)
    await expect(incoming.first).to_contain_text("prêt immo & mon assurance")
    await expect(incoming.first).to_contain_text("<enfin>")

    await moderation.keyboard.press("j")
    await moderation.keyboard.press("a")
    await expect(moderation.locator("#list-approved li")).to_have_count(1)
    await expect(presenter.locator("#next li")).to_have_count(1)
    await expect(presenter.locator("#next li").first).to_contain_text("prêt immo")

    await moderation.keyboard.press("o")
    await expect(audience.locator("#onair")).to_contain_text("prêt immo", timeout=1000)
    await expect(presenter.locator("#onair")).to_contain_text("prêt immo")

    # The count is per network: X weighs CJK characters double and every URL as 23.
    composer = presenter.locator("#answer-text")
    await composer.fill("日本語" * 50)
    await expect(presenter.locator('#counts [data-network="X"]')).to_have_text(
        "X: 300/280 · a thread of 2 posts"
    )
    await expect(presenter.locator('#counts [data-network="X"]')).to_have_class("over")
    await composer.fill("Details: https://aurora.example/a/very/long/path/to/the/fees/page")
    await expect(presenter.locator('#counts [data-network="X"]')).to_have_text("X: 32/280")
    await expect(presenter.locator('#counts [data-network="Tribune page"]')).to_have_text(
        "Tribune page: 65"
    )
    await composer.fill("Nous vous rappelons demain, promis.")
    await presenter.get_by_role("button", name="Publish answer").click()
    answered = audience.locator("#answered li")
    await expect(answered).to_have_count(1)
    await expect(answered.first).to_contain_text("Nous vous rappelons demain")
    await expect(audience.locator("#announcer")).to_contain_text("Nous vous rappelons demain")
    await expect(moderation.locator("#list-answered li")).to_have_count(1)


async def test_audience_form_and_no_horizontal_scroll_at_320px(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
) -> None:
    context = await browser.new_context(
        base_url=live_server.url, viewport={"width": 320, "height": 640}
    )
    page = await context.new_page()
    await page.goto("/live/ask-test")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#ask-status")).to_have_text("Please type your question first.")
    await page.get_by_label("Your question").fill("Quand ouvrez-vous le dimanche ?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#ask-status")).to_contain_text("Thank you")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320
