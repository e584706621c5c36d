"""The desk page in real Chromium: a complaint arrives live, is assigned, followed up and
resolved, and every desk and the console show it where it belongs."""

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.complaints import service
from app.events import service as events
from app.questions import service as questions
from app.questions.models import Category, Origin, Question
from app.questions.schemas import NewQuestion
from tests.conftest import Actor, LiveServer, ask
from tests.web.browser import logged_in
from tests.web.test_accessibility import violations

pytestmark = pytest.mark.browser


async def test_a_complaint_arrives_live_and_is_resolved_on_the_desk(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    moderator2: Actor,
) -> None:
    desk = await logged_in(browser, live_server.url, "mo", "/desk/ask-test")
    other = await logged_in(browser, live_server.url, "max", "/desk/ask-test")
    console = await logged_in(browser, live_server.url, "max", "/moderate/ask-test")
    await expect(desk.locator("#conn")).to_have_text("● live")
    await expect(other.locator("#conn")).to_have_text("● live")
    await expect(desk.locator("#cases-open li")).to_have_count(0)

    # A moderator in the console categorises a question as a complaint: it reaches the desk.
    question = await ask(http, "Mon virement a disparu depuis lundi")
    await ask(http, "When is the next product launch?")
    await http.patch(
        f"/api/v1/questions/{question['id']}",
        json={"category": "complaint"},
        headers=moderator2.headers,
    )
    card = desk.locator(f"#case-{question['id']}")
    await expect(card).to_be_visible()
    await expect(card.locator(".text")).to_have_text("Mon virement a disparu depuis lundi")
    await expect(card.locator(".sla")).to_contain_text("SLA: due in 29:")
    await expect(desk.locator("#arrivals")).to_have_text(
        "New complaint from Anonymous: Mon virement a disparu depuis lundi"
    )
    # The console keeps it out of the stage's incoming list, in its own place.
    await expect(console.locator("#list-complaints li.q")).to_have_count(1)
    await expect(console.locator("#list-pending li.q")).to_have_count(1)
    await expect(console.locator("#list-complaints")).to_contain_text("Open on the desk")

    # Assigned by keyboard-reachable controls; the other desk sees it at once.
    await card.get_by_label("Assignee").select_option("max")
    await expect(other.locator(f"#case-{question['id']} .meta")).to_contain_text("→ max")
    await card.get_by_label("Notes").fill("Asked the payments team")
    await card.get_by_role("button", name="Save notes").click()
    await expect(other.locator(f"#case-{question['id']}").get_by_label("Notes")).to_have_value(
        "Asked the payments team"
    )

    # The follow-up: the charter's template filled in (another one picked), checked live,
    # copied (no X reply for this asker).
    await card.get_by_role("button", name="Write follow-up").click()
    editor = card.get_by_label("Follow-up to Anonymous")
    await expect(editor).to_have_value(
        "We are sorry about this. Send us your customer reference by private message and we "
        "will look into it today."
    )
    assert await violations(desk) == [], "the desk passes axe (WCAG 2.1 AA), editor open"
    await card.get_by_label("Template").select_option(label="Réclamation : votre référence en MP")
    await expect(editor).to_have_value(
        "Nous sommes désolés. Envoyez-nous votre référence client en message privé, nous "
        "regardons cela aujourd'hui."
    )
    await expect(card).to_contain_text("No X reply")
    await editor.fill("Sorry {asker}, DM us")
    await expect(card.locator(".problems .hard")).to_contain_text("unfilled placeholder")
    await editor.fill("Sorry about this. Please send us your reference by DM.")
    await expect(card.locator(".problems li")).to_have_count(0)
    await card.get_by_role("button", name="Copy (I send it myself)").click()
    await expect(card.locator(".followup")).to_contain_text("copied by mo")
    await expect(card.locator(".sla")).to_contain_text("SLA: answered in")
    await expect(other.locator(f"#case-{question['id']}").get_by_label("Status")).to_have_value(
        "waiting_customer"
    )

    # Resolved: it leaves the open cases on every desk.
    await card.get_by_label("Status").select_option("resolved")
    await expect(desk.locator(f"#cases-closed #case-{question['id']}")).to_be_visible()
    await expect(other.locator(f"#cases-closed #case-{question['id']}")).to_be_visible()
    await expect(other.locator("#cases-open li")).to_have_count(0)
    await expect(desk.locator("#summary")).to_contain_text("0 open")


async def test_a_flood_of_complaints_shows_the_urgent_first_a_page_at_a_time(
    browser: Browser,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 130 complaints; the server lists the 120 due first, the page shows 100 of them at once.
    monkeypatch.setattr(service, "DESK_OPEN_LIMIT", 120)
    async with maker() as session, session.begin():
        live = await events.get_by_slug(session, "ask-test")
        made = await questions.create_many(
            session,
            live,
            [
                NewQuestion(origin=Origin.audience, source="audience", text=f"Complaint {n}")
                for n in range(130)
            ]
            + [NewQuestion(origin=Origin.audience, source="audience", text="Fees went up again")],
        )
        ids, later = [q.id for q in made[:130]], made[130].id
        await session.execute(
            update(Question).where(Question.id.in_(ids)).values(category=Category.complaint)
        )
    desk = await logged_in(browser, live_server.url, "mo", "/desk/ask-test")
    await expect(desk.locator("#conn")).to_have_text("● live")
    listed = desk.locator("#cases-open li")
    await expect(listed).to_have_count(100)
    await expect(listed.first.locator(".text")).to_have_text("Complaint 0")
    await expect(desk.locator("#summary")).to_contain_text("130 open")
    await expect(desk.locator("#unlisted")).to_contain_text(
        "10 open complaints, due after the ones listed, are not listed yet"
    )
    more = desk.get_by_role("button", name="Show 20 more (20 not shown)")
    await more.click()
    await expect(listed).to_have_count(120)
    await expect(listed.last.locator(".text")).to_have_text("Complaint 119")
    await expect(more).to_be_hidden()

    # A listed one is resolved; then one the desk was not sent, elsewhere: that one is listed
    # from then on, and counted once.
    for qid in (ids[0], ids[125]):
        done = await http.patch(
            f"/api/v1/complaints/{qid}", json={"status": "resolved"}, headers=moderator.headers
        )
        assert done.status_code == 200, done.text
    resolved = desk.locator("#cases-closed li")
    await expect(resolved).to_have_count(2)
    await expect(desk.locator("#summary")).to_contain_text("128 open")
    await expect(desk.locator("#summary")).to_contain_text("2 resolved")
    await expect(desk.locator("#unlisted")).to_contain_text("9 open complaints")
    # The resolved column shows the last resolved first.
    await expect(resolved.first).to_have_id(f"case-{ids[125]}")
    await expect(resolved.last).to_have_id(f"case-{ids[0]}")

    # A question of before the page loaded becomes a complaint (triage, or a moderator): it is
    # listed, and the count is the server's, so it is not mistaken for one of the unlisted.
    categorised = await http.patch(
        f"/api/v1/questions/{later}", json={"category": "complaint"}, headers=moderator.headers
    )
    assert categorised.status_code == 200, categorised.text
    await expect(desk.locator(f"#cases-open #case-{later}")).to_be_visible()
    await expect(desk.locator("#summary")).to_contain_text("129 open")
    await expect(desk.locator("#unlisted")).to_contain_text("9 open complaints")
