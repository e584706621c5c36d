"""XSS: hostile post texts and author names, shown on all three screens in real Chromium. No
script runs (a window flag stays unset) and the text shows literally."""

import html
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import NullNotifier, unit_of_work
from app.events import service as events
from app.ingest.schemas import NormalisedPost
from app.ingest.service import ingest_posts
from app.ingest.xpayload import clean_text, parse_stream_message
from tests.conftest import Actor, LiveServer
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser

FLAG = "window.__xss=1"
PAYLOADS = [
    f"<script>{FLAG}</script>",
    f'<img src=x onerror="{FLAG}">',
    f"<svg onload={FLAG}>",
    f"javascript:{FLAG}",
    f'"><script>{FLAG}</script>',
    f"&lt;script&gt;{FLAG}&lt;/script&gt;",
    f'<iframe src="javascript:{FLAG}"></iframe>',
    f'<a href="javascript:{FLAG}">click</a>',
    f"\u202e<script>{FLAG}</script>",
    f"<body onload={FLAG}>",
    f"<details open ontoggle={FLAG}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={FLAG}>",
    f"{{{{constructor.constructor('{FLAG}')()}}}}",
    f"${{{FLAG}}}",
    f"</script><script>{FLAG}</script>",
    f"<!--<script>{FLAG}</script>-->",
    f"<input autofocus onfocus={FLAG}>",
    f"<video><source onerror={FLAG}></video>",
    f'<object data="javascript:{FLAG}"></object>',
    f'<embed src="javascript:{FLAG}">',
    f"<marquee onstart={FLAG}>x</marquee>",
    f"<form><button formaction=javascript:{FLAG}>x</button></form>",
    '<img src="x" onerror="&#119;indow.__xss=1">',
    f"<svg><script>{FLAG}</script></svg>",
    f"<scr<script>ipt>{FLAG}</script>",
    f"%3Cscript%3E{FLAG}%3C/script%3E",
    '<base href="javascript:/">',
    f'<meta http-equiv="refresh" content="0;url=javascript:{FLAG}">',
    f"\u2066<img src=x onerror={FLAG}>\u2069",
    f"<style>@import 'javascript:{FLAG}';</style>",
    f'<div style="background:url(javascript:{FLAG})">x</div>',
    f"'-alert(1)-'<img src=x onerror={FLAG}>",
]


def hostile_posts() -> list[NormalisedPost]:
    """The payloads as X would send them (HTML-escaped), through the real parser."""
    return [
        parse_stream_message(
            {
                "data": {
                    "id": str(9_000 + i),
                    "author_id": str(i),
                    "text": html.escape(f"Q{i}: {payload}", quote=False),
                    "created_at": "2026-12-03T18:00:00.000Z",
                    "lang": "en",
                },
                "includes": {"users": [{"id": str(i), "username": "", "name": payload[:120]}]},
            },
            "replay",
        )
        for i, payload in enumerate(PAYLOADS)
    ]


async def no_script_ran(page: Page) -> None:
    assert await page.evaluate("window.__xss === undefined"), page.url


async def test_no_payload_runs_and_every_text_shows_literally(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    spokesperson: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    assert len(PAYLOADS) >= 30
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await events.get(session, int(live_event["id"]))
        await ingest_posts(session, show, hostile_posts())
    items = (
        await http.get("/api/v1/events/ask-test/questions?limit=100", headers=moderator.headers)
    ).json()["items"]
    q = "/api/v1/questions"
    for item in items[:12]:
        await http.post(f"{q}/{item['id']}/approve", headers=moderator.headers)
    for item in items[:6]:
        await http.post(f"{q}/{item['id']}/on-air", headers=moderator.headers)
        await http.post(
            f"{q}/{item['id']}/answers", json={"text": item["text"]}, headers=spokesperson.headers
        )
    await http.post(f"{q}/{items[6]['id']}/on-air", headers=moderator.headers)

    console = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    presenter = await logged_in(browser, live_server.url, "claire", "/present/ask-test")
    audience = await (await browser.new_context(base_url=live_server.url)).new_page()
    await audience.goto("/live/ask-test")
    for page in (console, presenter, audience):
        await expect(page.locator("#conn")).to_have_text("● live")
    await console.locator("#list-pending li.q").first.wait_for()
    for page in (console, presenter, audience):
        await no_script_ran(page)

    console_text = await console.locator("main").inner_text()
    for i, payload in enumerate(PAYLOADS):
        shown = " ".join(clean_text(f"Q{i}: {payload}").split())
        assert shown in " ".join(console_text.split()), payload
    on_air_text = await presenter.locator("#onair .onair-text").inner_text()
    assert on_air_text == items[6]["text"]
    answered = " ".join((await audience.locator("#answered").inner_text()).split())
    for item in items[:6]:
        assert " ".join(item["text"].split()) in answered
    # A reload renders the same content from the server's templates: still inert.
    await audience.reload()
    await expect(audience.locator("#conn")).to_have_text("● live")
    await no_script_ran(audience)
