"""Operator pages in real Chromium: create, edit, open and close a LiveEvent, copy the embed."""

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import Actor, LiveServer
from tests.web.browser import logged_in

pytestmark = pytest.mark.browser


async def test_operator_schedules_opens_embeds_and_closes_a_show(
    browser: Browser, live_server: LiveServer, http: httpx.AsyncClient, admin: Actor
) -> None:
    page = await logged_in(browser, live_server.url, "ada", "/admin")
    form = page.locator("#event-form")
    await form.get_by_label("Slug").fill("Bad Slug")
    await form.get_by_label("Title").fill("Ask Aurora")
    await form.get_by_label("Hashtags").fill("#AskAurora, AuroraLive")
    await page.get_by_role("button", name="Create").click()
    await expect(page.locator("#form-status")).to_contain_text("slug")

    await form.get_by_label("Slug").fill("ask-aurora")
    await form.get_by_label("Answering X account").fill("@AuroraBank")
    # A player on this machine: tests never reach out to the real video sites.
    await form.get_by_label("Stream URL").fill("https://127.0.0.1:9/player?channel=aurora")
    await form.get_by_label("Starts").fill("2026-12-03T18:00")
    await page.get_by_role("button", name="Create").click()
    await page.wait_for_url("**/admin/events/ask-aurora")
    snippet = await page.locator("#snippet").input_value()
    assert f'src="{live_server.url}/live/ask-aurora"' in snippet
    assert 'height="900"' in snippet

    created = (await http.get("/api/v1/events/ask-aurora")).json()
    assert created["hashtags"] == ["AskAurora", "AuroraLive"]
    assert created["answering_handle"] == "AuroraBank"
    assert created["starts_at"] is not None

    audience = await (await browser.new_context(base_url=live_server.url)).new_page()
    await audience.goto("/live/ask-aurora")
    await expect(audience.locator("#stream")).to_contain_text("The stream starts at")

    await page.get_by_role("button", name="Open the Q&A").click()
    await expect(page.locator("#state")).to_have_text("live")
    # The open audience page switches to the player by itself.
    player = audience.locator("#stream iframe")
    await expect(player).to_have_attribute("src", "https://127.0.0.1:9/player?channel=aurora")

    await page.locator("#event-form").get_by_label("Title").fill("Ask Aurora, live")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#form-status")).to_have_text("Saved.")
    await page.get_by_role("button", name="Close the Q&A").click()
    await expect(page.locator("#state")).to_have_text("ended")
    await expect(audience.locator("#stream")).to_contain_text("This Q&A has ended")
    final = (await http.get("/api/v1/events/ask-aurora")).json()
    assert (final["title"], final["state"]) == ("Ask Aurora, live", "ended")


async def test_non_admins_see_the_list_but_cannot_edit(
    browser: Browser, live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    page = await logged_in(browser, live_server.url, "mo", "/admin")
    await expect(page.locator("table.events")).to_contain_text("Ask Test Bank")
    await expect(page.locator("#event-form")).to_have_count(0)
    response = await page.goto("/admin/events/ask-test")
    assert response is not None
    assert response.status == 403


async def test_operator_puts_people_on_a_shows_team_and_takes_them_off(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    admin: Actor,
    spokesperson: Actor,
) -> None:
    created = await http.post(
        "/api/v1/events",
        json={"slug": "new-show", "title": "New show", "hashtag": "AskNew"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    claire = await logged_in(browser, live_server.url, "claire", "/admin")
    await expect(claire.locator("body")).to_contain_text("on no LiveEvent's team")

    page = await logged_in(browser, live_server.url, "ada", "/admin/events/new-show")
    team = page.locator("#team-form")
    await team.get_by_label("Username").fill("nobody")
    await team.get_by_role("button", name="Add to the team").click()
    await expect(page.locator("#team-status")).to_contain_text("no user 'nobody'")
    await team.get_by_label("Username").fill("claire")
    await team.get_by_label("Role").select_option("spokesperson")
    await team.get_by_role("button", name="Add to the team").click()
    await expect(page.locator("#team tbody tr")).to_have_count(1)
    await expect(page.locator("#team")).to_contain_text("spokesperson")

    # Claire now sees the show, with the presenter view only.
    await claire.reload()
    row = claire.locator("table.events tr[data-slug='new-show']")
    await expect(row.get_by_role("link", name="Present")).to_be_visible()
    await expect(row.get_by_role("link", name="Moderate")).to_have_count(0)
    present = await claire.goto("/present/new-show")
    assert present is not None
    assert present.status == 200

    await page.get_by_role("button", name="Remove claire").click()
    await expect(page.locator("#team tbody tr")).to_have_count(0)
    refused = await claire.goto("/present/new-show")
    assert refused is not None
    assert refused.status == 403
    await expect(claire.locator("main")).to_contain_text("not on this LiveEvent's team")
