"""Merging duplicates in the moderator console, in real Chromium: pick, merge, see the askers,
unmerge; a second moderator's console follows live."""

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts import service as accounts
from app.db import NullNotifier, unit_of_work
from app.events import service as events
from app.main import create_app
from app.questions import service as questions
from app.questions.states import Action
from tests.conftest import Actor, LiveServer, ask, serve_in_thread, staff_everyone
from tests.publishing.test_merged_answers import posted
from tests.web.browser import logged_in
from tests.x import conftest as x_fixtures
from tests.x.test_publishing import setup_show

pytestmark = pytest.mark.browser
# The sandbox X API (tests/x/conftest.py), for the presenter's X preview.
sandbox = x_fixtures.sandbox


async def test_a_moderator_merges_duplicates_and_another_sees_the_group(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    moderator2: Actor,
) -> None:
    main = await ask(http, "Is the new card free?")
    first = await ask(http, "Does the new card cost anything?")
    second = await http.post(
        "/api/v1/events/ask-test/questions",
        json={"text": "new card: free or not??", "author_name": "Nora"},
    )
    assert second.status_code == 201
    second_id = second.json()["id"]
    response = await http.post(f"/api/v1/questions/{main['id']}/approve", headers=moderator.headers)
    assert response.status_code == 200
    alice = await logged_in(browser, live_server.url, "mo", "/moderate/ask-test")
    bob = await logged_in(browser, live_server.url, "max", "/moderate/ask-test")
    await expect(bob.locator("#conn")).to_have_text("● live")
    await expect(alice.locator("#list-pending li.q")).to_have_count(2)

    # Alice picks the two duplicates, by click and by key, and merges them into the queued one.
    await alice.get_by_label(f"Pick #{first['id']} to merge").check()
    await alice.locator(f'li[data-id="{second_id}"] .text').click()
    await alice.keyboard.press("g")
    await expect(alice.get_by_label(f"Pick #{second_id} to merge")).to_be_checked()
    main_card = alice.locator(f'li[data-id="{main["id"]}"]')
    await main_card.get_by_role("button", name="Merge 2 picked here").click()
    await expect(alice.locator("#flash")).to_contain_text(f"into #{main['id']}: 3 askers")

    # Both consoles: the duplicates left the incoming list; the queued question carries them.
    for page in (alice, bob):
        await expect(page.locator("#list-pending li.q")).to_have_count(0)
        group = page.locator(f'#list-approved li[data-id="{main["id"]}"] details.askers')
        await expect(group.locator("summary")).to_have_text("+2 askers")
    group = bob.locator(f'li[data-id="{main["id"]}"] details.askers')
    await group.locator("summary").click()
    await expect(group.locator("li")).to_have_count(2)
    await expect(group).to_contain_text("Does the new card cost anything?")
    await expect(group).to_contain_text("Nora · audience")

    # Bob unmerges one: it is back in Alice's incoming list, and the group shrinks.
    await (
        group.locator(f'li[data-asker="{first["id"]}"]')
        .get_by_role("button", name="Unmerge")
        .click()
    )
    await expect(alice.locator("#list-pending")).to_contain_text("Does the new card cost anything?")
    await expect(alice.locator(f'li[data-id="{main["id"]}"] details.askers summary')).to_have_text(
        "+1 asker"
    )
    history = await http.get(f"/api/v1/questions/{main['id']}/history", headers=moderator.headers)
    assert [(t["question_id"], t["action"]) for t in history.json()][-3:] == [
        (first["id"], "merge"),
        (second_id, "merge"),
        (first["id"], "unmerge"),
    ]


async def test_the_presenter_sees_the_askers_and_what_replying_to_them_costs(
    browser: Browser,
    database_url: str,
    sandbox: x_fixtures.Sandbox,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    await setup_show(maker)
    await staff_everyone(maker)
    main = await posted(maker, sandbox, 1, mention=True)
    summoned = await posted(maker, sandbox, 2, mention=True)
    silent = await posted(maker, sandbox, 3, mention=False)
    async with unit_of_work(maker, NullNotifier()) as session:
        claire = await accounts.get_user(session, "claire")
        show = await events.get_by_slug(session, "ask-test")
        page_asker = (await questions.ask(session, show, "Free card?", "Nora")).id
        await questions.merge(session, main, [summoned, silent, page_asker], claire)
        await questions.act(session, main, Action.on_air, claire)
    with serve_in_thread(create_app(x_fixtures.x_settings(database_url, sandbox))) as server:
        page = await logged_in(browser, server.url, "claire", "/present/ask-test")
        await expect(page.locator("#onair .meta")).to_contain_text(
            "+3 askers: @asker2, @asker3, Nora"
        )
        await page.locator("#answer-text").fill("It is free for two years.")
        # One summoned reply besides the answer's own; the two others cannot get one.
        preview = page.locator("#preview")
        await expect(preview).to_contain_text("+ 1 reply to merged askers (1 post, est. $0.010)")
        await expect(preview).to_contain_text("2 others not on X or not mentioning us")
        # The spokesperson may answer the asker alone; the preview says so.
        await page.get_by_label("Reply to merged askers").uncheck()
        await expect(preview).to_contain_text("no reply to the 3 merged askers")
        await page.get_by_label("Reply to merged askers").check()
        await expect(preview).to_contain_text("+ 1 reply to merged askers")
        await page.get_by_role("button", name="Publish answer").click()
        await expect(page.locator("#composer-status")).to_have_text("Published.")
        live = await browser.new_page(base_url=server.url)
        await live.goto("/live/ask-test")
        answered = live.locator("#answered li")
        await expect(answered).to_have_count(1)
        await expect(answered).to_contain_text("asked by 4 people")
        await expect(answered.locator(".answer")).to_have_text("It is free for two years.")
