"""The shared realtime client (app/static/realtime.js) as a person experiences it: it says
when the page is stale, and a page too far behind reloads itself instead of showing a hole."""

import json
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, WebSocketRoute, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import NullNotifier, unit_of_work
from app.events.models import LiveEvent
from app.questions import service as questions
from app.questions.models import Origin
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


async def test_a_batch_is_applied_update_by_update_and_resumed_after(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    urls: list[str] = []
    frames: list[str] = []
    routes: list[WebSocketRoute] = []

    async def route(ws: WebSocketRoute) -> None:
        urls.append(ws.url)
        routes.append(ws)
        server = ws.connect_to_server()

        def forward(message: str | bytes) -> None:
            frames.append(message if isinstance(message, str) else message.decode())
            ws.send(message)

        server.on_message(forward)

    page = await logged_in(browser, live_server.url, "mo", "/admin")
    await page.route_web_socket("**/ws/events/**", route)
    await page.goto("/moderate/ask-test")
    await expect(page.locator("#conn")).to_have_text("● live")

    # Three questions committed together reach the page as one message, an array.
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await session.get(LiveEvent, live_event["id"])
        assert show is not None
        for i in range(3):
            await questions.create(
                session, show, origin=Origin.audience, source="audience", text=f"Batched {i}"
            )
    await expect(page.locator("#list-pending li.q")).to_have_count(3)
    for i in range(3):
        await expect(page.locator("#list-pending")).to_contain_text(f"Batched {i}")
    batches = [json.loads(frame) for frame in frames if frame.startswith("[")]
    assert len(batches) == 1
    seqs = [message["seq"] for message in batches[0]]
    assert seqs == list(range(seqs[0], seqs[0] + 3))

    # The page tracked the batch's last seq: a reconnect resumes after it, nothing twice.
    await routes[-1].close()
    await expect(page.locator("#conn")).to_have_text("reconnecting…")
    await expect(page.locator("#conn")).to_have_text("● live")
    assert len(urls) == 2
    assert urls[-1].endswith(f"after={seqs[-1]}")
    await ask(http, "After the batch")
    await expect(page.locator("#list-pending li.q")).to_have_count(4)
