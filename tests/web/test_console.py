"""The moderator console in real Chromium: several moderators at once, and a reconnect."""

import asyncio
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.service import get_user
from app.config import Settings
from app.db import NullNotifier, unit_of_work
from app.events.models import LiveEvent
from app.main import create_app
from app.questions import service as questions
from app.questions.models import Origin
from app.questions.states import Action
from tests.conftest import Actor, LiveServer, ask, serve_in_thread
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser


async def column(page: Page, name: str) -> list[str]:
    """What a person sees in one column: each card's text, in order."""
    return await page.locator(f"#list-{name} li.q .text").all_inner_texts()


async def test_two_moderators_see_each_other_and_conflicts_are_explained(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    moderator2: Actor,
) -> None:
    first = await ask(http, "Will the app get dark mode?")
    second = await ask(http, "Why did my card stop working abroad?")
    alice = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    bob = await logged_in(browser, live_server.url, "max", "/moderate/ask-test")
    await expect(bob.locator("#conn")).to_have_text("● live")

    # Alice approves the first question by keyboard; Bob sees it move within a second.
    await alice.keyboard.press("j")
    await alice.keyboard.press("a")
    await expect(bob.locator("#list-approved li.q")).to_have_count(1, timeout=1000)
    await expect(bob.locator("#list-approved")).to_contain_text(str(first["text"]))
    await expect(bob.locator("#list-approved")).to_contain_text("approved by mo")

    # Bob's screen goes stale (his socket's messages are held back), Alice rejects the second
    # question, and Bob, who still sees it pending, tries to approve it.
    held = True

    async def hold(route: WebSocketRoute) -> None:
        server = route.connect_to_server()
        server.on_message(lambda message: None if held else route.send(message))

    await bob.route_web_socket("**/ws/events/**", hold)
    await bob.reload()
    await expect(bob.locator("#list-pending li.q")).to_have_count(1)
    await alice.locator(f'li[data-id="{second["id"]}"]').click()
    await alice.keyboard.press("r")
    await expect(alice.locator("#list-aside")).to_contain_text(str(second["text"]))
    await bob.locator(f'li[data-id="{second["id"]}"]').click()
    await bob.keyboard.press("a")
    flash = bob.locator("#flash")
    await expect(flash).to_contain_text("was changed by mo")
    await expect(flash).to_have_attribute("data-kind", "error")
    # Bob's screen now shows the truth, and Alice's decision stands.
    await expect(bob.locator("#list-aside")).to_contain_text(str(second["text"]))
    current = (
        await http.get(f"/api/v1/questions/{second['id']}", headers=moderator.headers)
    ).json()
    assert current["status"] == "rejected"
    held = False


async def test_after_a_server_restart_the_console_equals_a_fresh_reload(
    browser: Browser,
    settings: Settings,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    for i in range(5):
        await ask(http, f"Before the cut {i}")
    page = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    await expect(page.locator("#list-pending li.q")).to_have_count(5)

    # The server goes away; 20 updates happen meanwhile; a new server comes up on the port.
    port = int(live_server.url.rsplit(":", 1)[1])
    await asyncio.to_thread(live_server.stop)
    await expect(page.locator("#conn")).to_have_text("reconnecting…")
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await session.get(LiveEvent, live_event["id"])
        assert show is not None
        actor = await get_user(session, "mo")
        created = []
        for i in range(14):
            created.append(
                await questions.create(
                    session,
                    show,
                    origin=Origin.audience,
                    source="audience",
                    text=f"During the cut {i}",
                )
            )
        for question in created[:4]:
            await questions.act(session, question.id, Action.approve, actor)
        await questions.act(session, created[0].id, Action.on_air, actor)
        await questions.act(session, created[5].id, Action.reject, actor)
    with serve_in_thread(create_app(settings, run_sources=False), port=port):
        await expect(page.locator("#conn")).to_have_text("● live", timeout=20_000)
        await expect(page.locator("#list-pending li.q")).to_have_count(5 + 14 - 5)
        fresh = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
        for name in ("pending", "approved", "on_air", "answered", "aside"):
            assert await column(page, name) == await column(fresh, name), name
        texts = await column(page, "pending")
        assert len(texts) == len(set(texts)), "nothing shows twice"


async def test_queue_order_edit_note_and_filters_by_keyboard(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    spokesperson: Actor,
) -> None:
    texts = ["First in line?", "Second in line?", "Third in line?"]
    ids = [(await ask(http, text))["id"] for text in texts]
    for qid in ids:
        await http.post(f"/api/v1/questions/{qid}/approve", headers=moderator.headers)
    fees = await ask(http, "Pourquoi ces frais de tenue de compte ?")
    await http.patch(
        f"/api/v1/questions/{fees['id']}", json={"category": "complaint"}, headers=moderator.headers
    )
    console = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    presenter = await logged_in(browser, live_server.url, "claire", "/present/ask-test")
    await expect(presenter.locator("#next li .text")).to_have_text(texts)

    # Keys: the third question moves up twice, to the head of the queue.
    await console.locator(f'li[data-id="{ids[2]}"]').click()
    await console.keyboard.press("Shift+K")
    await expect(console.locator("#list-approved li.q .text")).to_have_text(
        [texts[0], texts[2], texts[1]]
    )
    await console.keyboard.press("Shift+K")
    expected = [texts[2], texts[0], texts[1]]
    await expect(console.locator("#list-approved li.q .text")).to_have_text(expected)
    await expect(presenter.locator("#next li .text")).to_have_text(expected)

    # Drag: the last question dropped on the first goes before it.
    await console.locator(f'li[data-id="{ids[1]}"]').drag_to(
        console.locator(f'li[data-id="{ids[2]}"]')
    )
    expected = [texts[1], texts[2], texts[0]]
    await expect(presenter.locator("#next li .text")).to_have_text(expected)

    # Edit and note, each on one key; the original text is kept.
    await console.locator(f'li[data-id="{fees["id"]}"]').click()
    await console.keyboard.press("e")
    editor = console.get_by_label("Edit the question")
    await editor.fill("Pourquoi les frais de tenue de compte augmentent-ils ?")
    await editor.press("Control+Enter")
    card = console.locator(f'li[data-id="{fees["id"]}"]')
    await expect(card.locator(".text")).to_have_text(
        "Pourquoi les frais de tenue de compte augmentent-ils ?"
    )
    await expect(card.locator(".chip", has_text="edited")).to_have_attribute(
        "title", "Original: Pourquoi ces frais de tenue de compte ?"
    )
    await console.keyboard.press("n")
    await console.get_by_label("Moderator note").fill("Hand to the complaints desk")
    await console.get_by_label("Moderator note").press("Enter")
    await expect(card.locator(".note")).to_have_text("Note: Hand to the complaints desk")

    # Filters and search narrow every column.
    await console.get_by_label("Category").select_option("complaint")
    await expect(console.locator("li.q")).to_have_count(1)
    await console.get_by_label("Category").select_option("")
    await console.keyboard.press("/")
    await console.keyboard.type("in line")
    await expect(console.locator("li.q")).to_have_count(3)
    await expect(console.locator("#list-pending li.q")).to_have_count(0)


async def test_what_a_moderator_types_survives_the_updates_arriving_meanwhile(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    http: httpx.AsyncClient,
    moderator: Actor,
) -> None:
    """A live chat never pauses: questions arrive and the console redraws while a moderator
    writes a note. What they typed, and the focus, stay (a rebuilt input lost both)."""
    first = await ask(http, "Quels sont les horaires de l'agence de Lyon ?")
    console = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    card = console.locator(f'li[data-id="{first["id"]}"]')
    await card.click()
    await console.keyboard.press("n")
    note = console.get_by_label("Moderator note")
    await note.press_sequentially("Ask the ")
    for n in range(3):
        await ask(http, f"Another question, number {n}, arrives meanwhile?")
    await expect(console.locator("#list-pending li.q")).to_have_count(4)
    await expect(note).to_be_focused()
    await expect(note).to_have_value("Ask the ")
    await console.keyboard.type("Lyon branch")
    await console.keyboard.press("Enter")
    await expect(card.locator(".note")).to_have_text("Note: Ask the Lyon branch")
