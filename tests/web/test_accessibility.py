"""Every screen checked with axe-core (WCAG 2.1 A and AA rules, contrast included) in Chromium,
with real content on it."""

from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.conftest import Actor, LiveServer, ask
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


async def violations(page: Page) -> list[str]:
    results = await Axe().run(page, options=WCAG_AA)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
    ]


async def test_every_screen_passes_axe(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
    moderator: Actor,
    spokesperson: Actor,
) -> None:
    q = "/api/v1/questions"
    ids = [(await ask(http, f"Accessible question {i}?"))["id"] for i in range(5)]
    for qid in ids[:3]:
        await http.post(f"{q}/{qid}/approve", headers=moderator.headers)
    await http.patch(
        f"{q}/{ids[3]}", json={"category": "complaint", "note": "desk"}, headers=moderator.headers
    )
    await http.post(f"{q}/{ids[0]}/on-air", headers=moderator.headers)
    await http.post(f"{q}/{ids[0]}/answers", json={"text": "Yes."}, headers=spokesperson.headers)
    await http.post(f"{q}/{ids[1]}/on-air", headers=moderator.headers)

    anonymous = await (await browser.new_context(base_url=live_server.url)).new_page()
    screens: dict[str, Page] = {}
    await anonymous.goto("/login")
    screens["login"] = anonymous
    audience = await (await browser.new_context(base_url=live_server.url)).new_page()
    await audience.goto("/live/ask-test")
    screens["audience"] = audience
    screens["console"] = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    screens["presenter"] = await logged_in(browser, live_server.url, "claire", "/present/ask-test")
    screens["admin"] = await logged_in(browser, live_server.url, "ada", "/admin")
    screens["admin event"] = await logged_in(
        browser, live_server.url, "ada", "/admin/events/ask-test"
    )
    found = {}
    for name, page in screens.items():
        if name in ("audience", "console", "presenter"):
            await expect(page.locator("#conn")).to_have_text("● live")
        problems = await violations(page)
        if problems:
            found[name] = problems
    assert found == {}
