"""The audience page in real Chromium: asking, errors, living in a third-party iframe, and
never leaking what the public must not see."""

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, WebSocket, expect

from tests.conftest import Actor, LiveServer, _free_port, ask
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser


@pytest.fixture
def brand_site(tmp_path: Path, live_server: LiveServer) -> Iterator[str]:
    """The brand's own site, on another origin, embedding the audience page in an iframe."""
    (tmp_path / "index.html").write_text(
        f"""<!doctype html><title>Aurora Bank</title><h1>Aurora Bank — live Q&amp;A</h1>
        <iframe id="tribune" src="{live_server.url}/live/ask-test" title="Live Q&amp;A"
          width="100%" height="900" style="border:0"></iframe>""",
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    port = _free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}/index.html"
    server.shutdown()
    server.server_close()


async def test_a_question_from_the_page_inside_a_third_party_iframe_reaches_the_console(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
    admin: Actor,
    http: httpx.AsyncClient,
    brand_site: str,
) -> None:
    # The operator lists the brand's site among the origins allowed to frame the page.
    brand_origin = brand_site.rsplit("/", 1)[0]
    allowed = await http.patch(
        "/api/v1/events/ask-test", json={"embed_origins": [brand_origin]}, headers=admin.headers
    )
    assert allowed.status_code == 200, allowed.text
    console = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await page.goto(brand_site)
    frame = page.frame_locator("#tribune")
    await expect(frame.locator("#conn")).to_have_text("● live")

    await frame.get_by_role("button", name="Send").click()
    await expect(frame.locator("#ask-status")).to_have_text("Please type your question first.")
    await expect(frame.get_by_label("Your question")).to_have_attribute("aria-invalid", "true")
    await frame.get_by_label("Your question").fill("x" * 501)
    await expect(frame.locator("#ask-count")).to_have_text("501 / 500")
    await frame.get_by_role("button", name="Send").click()
    await expect(frame.locator("#ask-status")).to_contain_text("the limit is 500")

    await frame.get_by_label("Your name (optional)").fill("Inès")
    await frame.get_by_label("Your question").fill("Ouvrez-vous le samedi à Quimper ?")
    await frame.get_by_role("button", name="Send").click()
    await expect(frame.locator("#ask-status")).to_contain_text("Thank you")
    await expect(frame.get_by_label("Your question")).to_have_value("")
    incoming = console.locator("#list-pending li.q")
    await expect(incoming).to_have_count(1)
    await expect(incoming.first).to_contain_text("Ouvrez-vous le samedi à Quimper ?")
    await expect(incoming.first).to_contain_text("Inès")


async def test_closing_the_show_updates_open_audience_pages(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    admin: Actor,
    http: httpx.AsyncClient,
) -> None:
    page = await (await browser.new_context(base_url=live_server.url)).new_page()
    await page.goto("/live/ask-test")
    await expect(page.locator("#conn")).to_have_text("● live")
    # The show closes while the page is open: the page reloads into its ended state.
    await http.patch("/api/v1/events/ask-test", json={"state": "ended"}, headers=admin.headers)
    await expect(page.locator("#stream")).to_contain_text("This Q&A has ended")
    await expect(page.get_by_text("Questions are closed.")).to_be_visible()


async def test_pending_and_rejected_text_never_reaches_the_audience(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
) -> None:
    page = await (await browser.new_context(base_url=live_server.url)).new_page()
    frames: list[str] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", watch)
    await page.goto("/live/ask-test")
    await expect(page.locator("#conn")).to_have_text("● live")

    q = "/api/v1/questions"
    pending = await ask(http, "LEAK-PENDING do not show")
    rejected = await ask(http, "LEAK-REJECTED do not show")
    approved = await ask(http, "LEAK-APPROVED-ONLY not yet public")
    shown = await ask(http, "Public once on air")
    await http.post(f"{q}/{rejected['id']}/reject", headers=moderator.headers)
    await http.post(f"{q}/{approved['id']}/approve", headers=moderator.headers)
    await http.post(f"{q}/{shown['id']}/approve", headers=moderator.headers)
    await http.post(f"{q}/{shown['id']}/on-air", headers=moderator.headers)
    await http.patch(f"{q}/{pending['id']}", json={"note": "LEAK-NOTE"}, headers=moderator.headers)
    await expect(page.locator("#onair")).to_contain_text("Public once on air")
    await expect(page.locator("#announcer")).to_contain_text("On air: Public once on air")
    for content in (await page.content(), "\n".join(frames)):
        assert "LEAK" not in content
    await page.reload()
    await expect(page.locator("#onair")).to_contain_text("Public once on air")
    assert "LEAK" not in await page.content()
