"""Triage on the moderator's console and the admin page, in real Chromium: the category badge
with its confidence, rumours first, the duplicate group's count, a correction by keyboard, and
the LiveEvent's rules."""

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import Actor, LiveServer, ask
from tests.triage.conftest import RunStage
from tests.web.browser import logged_in
from tests.web.conftest import browser  # noqa: F401  # the fixture, shared with tests/web

pytestmark = pytest.mark.browser

RUMOUR = (
    "Is it true that Test Bank is going bankrupt? My cousin says the bank will be sold #AskTest"
)
LYON = "Pourquoi fermez-vous l'agence de Lyon Part-Dieu en mars ? #AskTest"
LYON_AGAIN = "Pourquoi fermez vous l'agence Lyon Part Dieu en mars??"
SPAM = "WIN 5000€ IN CRYPTO NOW!!! click bit.ly/fake-x1 #crypto #win #free #money"


async def test_console_shows_triage_and_a_moderator_corrects_it_by_keyboard(
    browser: Browser,  # noqa: F811
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    run_stage: RunStage,
) -> None:
    lyon = await ask(http, LYON)
    await ask(http, LYON_AGAIN)
    rumour = await ask(http, RUMOUR)
    spam = await ask(http, SPAM)
    await run_stage()
    page = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    await expect(page.locator("#conn")).to_have_text("● live")

    # The rumour came last but is listed first, badged, with the model's confidence.
    pending = page.locator("#list-pending li.q")
    await expect(pending).to_have_count(3)
    first = pending.first
    await expect(first.locator(".text")).to_have_text(RUMOUR)
    badge = first.locator("button.chip.cat-rumour")
    await expect(badge).to_have_text(re.compile(r"^⚑ rumour \d{2,3}%$"))
    await expect(first.locator(".meta")).to_contain_text("en")
    # The two Lyon questions show their group's count.
    group = page.locator(f'#list-pending .chip.group[data-group="{lyon["id"]}"]')
    await expect(group).to_have_count(2)
    await expect(group.first).to_have_text("2 alike")
    # The spam is under Rejected, with triage's reason.
    aside = page.locator(f'#list-aside li[data-id="{spam["id"]}"]')
    await expect(aside).to_contain_text("Triage: link spam: shortened link (bit.ly)")
    await expect(aside).to_contain_text("rejected by triage")

    # Correct the rumour's category with the keyboard alone: select, c, arrows, Enter.
    await page.keyboard.press("j")
    await expect(first).to_have_class(re.compile(r"\bselected\b"))
    await page.keyboard.press("c")
    picker = page.get_by_label(f"Category of question #{rumour['id']}")
    await expect(picker).to_be_focused()
    await expect(picker).to_have_value("rumour")
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowUp")
    await expect(picker).to_have_value("question")
    await page.keyboard.press("Enter")
    await expect(page.locator("#flash")).to_contain_text("filed as question")
    card = page.locator(f'li[data-id="{rumour["id"]}"]')
    await expect(card.locator("button.chip.cat-question")).to_have_text("question")
    stored = (await http.get(f"/api/v1/questions/{rumour['id']}", headers=moderator.headers)).json()
    assert (stored["category"], stored["category_source"]) == ("question", "moderator")
    export = await http.get(
        "/api/v1/events/ask-test/triage/corrections.jsonl", headers=moderator.headers
    )
    assert '"category": "question"' in export.text

    # Escape leaves the picker without changing anything.
    await card.locator("button.chip").click()
    await expect(picker).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Escape")
    await expect(picker).to_have_count(0)
    await expect(card.locator("button.chip.cat-question")).to_have_text("question")


async def test_admin_sets_the_triage_rules_on_the_event_page(
    browser: Browser,  # noqa: F811
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
) -> None:
    page = await logged_in(browser, live_server.url, "ada", "/admin/events/ask-test")
    await page.get_by_label("Blocked words").fill("arnaque\nremboursez*\n")
    await page.get_by_label("Blocked accounts").fill("@troll42")
    await page.get_by_label("Reject profanity").uncheck()
    await page.get_by_role("button", name="Apply the rules").click()
    await expect(page.locator("#triage-status")).to_have_text(re.compile("^Applied"))
    rules = (await http.get("/api/v1/events/ask-test/triage/rules", headers=admin.headers)).json()
    assert rules["blocked_words"] == ["arnaque", "remboursez*"]
    assert rules["blocked_accounts"] == ["troll42"]
    assert rules["profanity"] is False
    # A mistake is explained, not stored.
    await page.get_by_label("Blocked accounts").fill("not a handle!")
    await page.get_by_role("button", name="Apply the rules").click()
    await expect(page.locator("#triage-status")).to_contain_text("not an account handle")
    await page.reload()
    await expect(page.get_by_label("Blocked words")).to_have_value("arnaque\nremboursez*")
