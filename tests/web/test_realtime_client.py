"""The shared realtime client (app/static/realtime.js) as a person experiences it: it says
when the page is stale, and a page too far behind reloads itself instead of showing a hole."""

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from app.config import Settings
from tests.conftest import Actor, LiveServer, ask
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser


async def test_stale_then_resync_reloads_a_fresh_page(
    browser: Browser,
    settings: Settings,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
) -> None:
    held = False
    routes: list[WebSocketRoute] = []

    async def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        routes.append(ws)
        server.on_message(lambda message: None if held else ws.send(message))

    page = await logged_in(browser, live_server.url, "mo", "/admin")
    await page.route_web_socket("**/ws/events/**", route)
    await page.goto("/moderate/ask-test")
    await expect(page.locator("#conn")).to_have_text("● live")
    await page.evaluate("window.loadedBefore = true")

    # Nothing arrives for a few heartbeats: the page says so.
    held = True
    await expect(page.locator("#conn")).to_contain_text("stale")
    for i in range(3):
        await ask(http, f"Asked while the page was stale {i}")
    # Too far behind to replay: the server says resync, and the page reloads itself.
    settings.resume_window = 1
    held = False
    await routes[-1].close()
    await expect(page.locator("#list-pending li.q")).to_have_count(3)
    await expect(page.locator("#conn")).to_have_text("● live")
    assert await page.evaluate("window.loadedBefore === undefined"), "the page was reloaded"
