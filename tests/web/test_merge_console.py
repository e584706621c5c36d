"""Merging duplicates in the moderator console, in real Chromium: pick, merge, see the askers,
unmerge; a second moderator's console follows live."""

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import Actor, LiveServer, ask
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser


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
