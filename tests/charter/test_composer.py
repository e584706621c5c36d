"""The answer composer in real Chromium: the charter's violations appear as the spokesperson
types, publishing stays disabled while a hard rule is broken, and only a moderator can publish
over it, with a reason."""

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.charter.test_api import CHARTER, on_air
from tests.conftest import Actor, LiveServer, ask
from tests.web.browser import logged_in
from tests.web.conftest import browser as browser  # the Chromium fixture, here too

pytestmark = pytest.mark.browser


async def test_the_composer_shows_violations_live_and_blocks_publishing_until_fixed(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    http: httpx.AsyncClient,
    admin: Actor,
    moderator: Actor,
    spokesperson: Actor,
) -> None:
    saved = await http.put(
        CHARTER,
        json={"forbidden_words": ["gratuit"], "signature": "— AB"},
        headers=admin.headers,
    )
    assert saved.status_code == 200, saved.text
    await on_air(http, moderator, "Le compte jeune est-il gratuit ?")
    page = await logged_in(browser, live_server.url, "claire", "/present/ask-test")
    await expect(page.locator("#onair")).to_contain_text("Le compte jeune")
    publish = page.get_by_role("button", name="Publish answer")
    violations = page.get_by_role("list", name="Charter check")
    await expect(violations).to_have_attribute("aria-live", "polite")
    await expect(publish).to_be_enabled()

    composer = page.get_by_label("Answer", exact=True)
    await composer.press_sequentially("Évidemment, il est gratuit")
    await expect(violations.locator('li[data-rule="forbidden_word"]')).to_have_text(
        "Blocks publishing: “gratuit” is forbidden by the charter."
    )
    await expect(violations.locator('li[data-rule="signature"]')).to_have_text(
        "Blocks publishing: End the answer with the signature “— AB”."
    )
    await expect(violations.locator('li[data-rule="dismissive"]')).to_have_text(
        "Warning: “Évidemment” can sound dismissive to the asker."
    )
    await expect(publish).to_be_disabled()
    await expect(page.locator("#charter-hint")).to_have_text(
        "A hard rule of the charter is broken: fix the answer, or ask a moderator to override."
    )
    # A spokesperson has no override to offer.
    await expect(page.locator("#override")).to_have_count(0)

    # Fixed one rule at a time: still blocked until the last hard rule is gone.
    await composer.fill("Évidemment, il ne coûte rien")
    await expect(violations.locator('li[data-rule="forbidden_word"]')).to_have_count(0)
    await expect(violations.locator('li[data-rule="signature"]')).to_have_count(1)
    await expect(publish).to_be_disabled()
    await composer.press_sequentially(". — AB")
    await expect(violations.locator("li.hard")).to_have_count(0)
    await expect(violations.locator('li[data-rule="dismissive"]')).to_have_count(1)
    await expect(publish).to_be_enabled()
    await expect(page.locator("#charter-hint")).to_be_hidden()
    await publish.click()
    await expect(page.locator("#composer-status")).to_have_text("Published.")


async def test_a_moderator_inserts_a_template_or_overrides_with_a_reason(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    http: httpx.AsyncClient,
    admin: Actor,
    moderator: Actor,
) -> None:
    saved = await http.put(
        CHARTER, json={"forbidden_words": ["gratuit"], "signature": "— MO"}, headers=admin.headers
    )
    assert saved.status_code == 200, saved.text
    await on_air(http, moderator, "Mon virement est bloqué depuis lundi")
    page = await logged_in(browser, live_server.url, "mo", "/present/ask-test")
    await expect(page.locator("#onair")).to_contain_text("virement")
    publish = page.get_by_role("button", name="Publish answer")
    violations = page.get_by_role("list", name="Charter check")

    # No template fits a plain question (the default charter has rumour and follow-up ones):
    # none is offered, and Insert with none chosen inserts nothing.
    composer = page.get_by_label("Answer", exact=True)
    await expect(page.get_by_label("Template")).to_have_value("")
    await page.get_by_role("button", name="Insert").click()
    await expect(composer).to_have_value("")

    # A template fills in the signature: nothing to fix.
    await page.get_by_label("Template").select_option(
        label="Réclamation : votre référence en MP (complaint followup)"
    )
    await page.get_by_role("button", name="Insert").click()
    await expect(composer).to_have_value(
        "Nous sommes désolés. Envoyez-nous votre référence client en message privé, nous "
        "regardons cela aujourd'hui. — MO"
    )
    await expect(publish).to_be_enabled()

    await composer.fill("Le virement est gratuit")
    await expect(violations.locator("li.hard")).to_have_count(2)
    await expect(publish).to_be_disabled()
    override = page.get_by_label("Override the charter")
    await expect(override).to_be_visible()
    await override.check()
    await expect(publish).to_be_enabled()
    await publish.click()
    await expect(page.locator("#composer-status")).to_have_text("Say why you override the charter.")
    await page.get_by_label("Reason (audited)").fill("Offre validée par le juridique")
    await publish.click()
    await expect(page.locator("#composer-status")).to_have_text("Published.")

    [audit] = (await http.get(f"{CHARTER}/overrides", headers=moderator.headers)).json()
    assert audit["username"] == "mo"
    assert audit["reason"] == "Offre validée par le juridique"
    assert audit["answer_text"] == "Le virement est gratuit"


async def test_the_operator_edits_the_charter_on_the_admin_page(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    http: httpx.AsyncClient,
    admin: Actor,
) -> None:
    page = await logged_in(browser, live_server.url, "ada", "/admin/events/ask-test")
    charter = page.locator("#charter-form")
    await charter.get_by_label("Required signature").fill("— CL")
    await charter.get_by_label("Forbidden words (one per line)").fill("gratuit\nrisk-free\n")
    await charter.locator('select[name="link_policy"]').select_option("listed")
    await charter.get_by_label("Sites links may point to").fill(
        "aurora-bank.fr, https://www.aide.fr/x"
    )
    await charter.get_by_label(
        "Shouting (three words or more in capitals): when broken"
    ).select_option("hard")
    await charter.get_by_label("Longest answer on Bluesky").fill("")
    await page.get_by_role("button", name="Add a template").click()
    new = charter.locator("fieldset").last
    await new.get_by_label("Name").fill("Merci")
    await new.get_by_label("Text").fill("Merci {asker} ! {signature}")
    await page.get_by_role("button", name="Update the charter").click()
    await expect(page.locator("#charter-status")).to_have_text("Charter saved.")

    saved = (await http.get(CHARTER, headers=admin.headers)).json()
    assert saved["signature"] == "— CL"
    assert saved["forbidden_words"] == ["gratuit", "risk-free"]
    assert saved["link_policy"] == "listed"
    assert saved["link_domains"] == ["aurora-bank.fr", "aide.fr"]
    assert saved["severity"]["shouting"] == "hard"
    assert saved["max_length"]["bluesky"] is None
    assert saved["templates"][-1] == {
        "name": "Merci",
        "kind": "answer",
        "text": "Merci {asker} ! {signature}",
    }

    # A mistake is refused with a message, and nothing changes.
    await new.get_by_label("Text").fill("Merci {askr}")
    await page.get_by_role("button", name="Update the charter").click()
    await expect(page.locator("#charter-status")).to_contain_text("unknown placeholder {askr}")
    assert (await http.get(CHARTER, headers=admin.headers)).json() == saved
    # After a reload the page shows what was saved.
    await page.reload()
    await expect(charter.get_by_label("Required signature")).to_have_value("— CL")
    await expect(charter.locator("fieldset").last.get_by_label("Name")).to_have_value("Merci")


async def test_a_rumour_on_air_is_flagged_with_the_charters_rumour_template_ready(
    browser: Browser,
    live_server: LiveServer,
    live_event: dict[str, Any],
    http: httpx.AsyncClient,
    moderator: Actor,
) -> None:
    """Issue 7: a rumour is answered with the facts, fast; the composer has the charter's
    rumour template selected for it (and an answer template for a plain question)."""
    question_id = int(str((await ask(http, "Is it true the bank is being sold?"))["id"]))
    marked = await http.patch(
        f"/api/v1/questions/{question_id}", json={"category": "rumour"}, headers=moderator.headers
    )
    assert marked.status_code == 200, marked.text
    for action in ("approve", "on-air"):
        response = await http.post(
            f"/api/v1/questions/{question_id}/{action}", headers=moderator.headers
        )
        assert response.status_code == 200, response.text
    page = await logged_in(browser, live_server.url, "mo", "/present/ask-test")
    await expect(page.locator("#onair .rumour-flag")).to_contain_text("Rumour")
    template = page.get_by_label("Template")
    await expect(template.locator("option:checked")).to_have_text("Rumour: not true (rumour)")
    await page.get_by_role("button", name="Insert").click()
    await expect(page.get_by_label("Answer", exact=True)).to_have_value(
        re.compile(r"This is not true\. The facts: ")
    )
