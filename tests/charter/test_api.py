"""The charter through the API: the operator edits it, the team reads it, the composer checks
drafts, and publishing refuses an answer that breaks a hard rule unless a moderator overrides,
which is audited."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.charter.models import CharterOverride
from app.db import utcnow
from app.main import create_app
from app.publishing.models import Delivery
from app.questions.models import Answer
from tests.conftest import Actor, LiveServer, ask, serve_in_thread
from tests.x.conftest import Sandbox, x_settings
from tests.x.conftest import sandbox as sandbox  # the fake X API, as a fixture here too

CHARTER = "/api/v1/events/ask-test/charter"
STRICT = {"forbidden_words": ["gratuit", "free"], "signature": "— AB"}


async def counts(maker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with maker() as session:
        return {
            model.__tablename__: int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in (Answer, Delivery, CharterOverride)
        }


async def on_air(http: httpx.AsyncClient, moderator: Actor, text: str) -> int:
    question_id = int(str((await ask(http, text))["id"]))
    for action in ("approve", "on-air"):
        response = await http.post(
            f"/api/v1/questions/{question_id}/{action}", headers=moderator.headers
        )
        assert response.status_code == 200, response.text
    return question_id


async def put_charter(http: httpx.AsyncClient, admin: Actor, **rules: Any) -> dict[str, Any]:
    response = await http.put(CHARTER, json=rules, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.usefixtures("live_event")
async def test_the_operator_edits_the_charter_and_the_team_reads_it(
    http: httpx.AsyncClient, admin: Actor, moderator: Actor, spokesperson: Actor
) -> None:
    default = (await http.get(CHARTER, headers=spokesperson.headers)).json()
    assert default["updated_by"] == ""
    assert default["signature"] == ""
    assert default["severity"]["forbidden_word"] == "hard"
    assert default["max_length"] == {"x": 280, "mastodon": 500, "bluesky": 300, "page": None}
    assert {t["kind"] for t in default["templates"]} == {"rumour", "complaint_followup"}
    assert "obviously" in default["dismissive_words"]

    refused = await http.put(CHARTER, json=STRICT, headers=moderator.headers)
    assert refused.status_code == 403
    saved = await put_charter(
        http,
        admin,
        **STRICT,
        severity={"shouting": "hard"},
        link_policy="listed",
        link_domains=["https://www.Bank.fr/help"],
        templates=[{"name": "Merci", "text": "Merci {asker} ! {signature}"}],
    )
    assert saved["updated_by"] == "ada"
    assert saved["link_domains"] == ["bank.fr"]
    # Rules the PUT left out keep their defaults.
    assert saved["severity"]["shouting"] == "hard"
    assert saved["severity"]["signature"] == "hard"
    read = (await http.get(CHARTER, headers=spokesperson.headers)).json()
    assert read == saved
    assert read["templates"] == [
        {"name": "Merci", "kind": "answer", "text": "Merci {asker} ! {signature}"}
    ]

    for bad, where in (
        ({"templates": [{"name": "x", "text": "Hi {askr}"}]}, "unknown placeholder {askr}"),
        ({"link_domains": ["not a domain"]}, "not a domain name"),
        ({"severity": {"tone": "hard"}}, "severity"),
        ({"max_length": {"x": 0}}, "max_length"),
    ):
        response = await http.put(CHARTER, json=bad, headers=admin.headers)
        assert response.status_code == 422, bad
        assert where in response.text
    assert (await http.get(CHARTER)).status_code == 401


@pytest.mark.usefixtures("live_event")
async def test_the_check_lists_violations_and_the_x_price(
    http: httpx.AsyncClient, admin: Actor, moderator: Actor, spokesperson: Actor
) -> None:
    await put_charter(http, admin, **STRICT, mention_policy="asker_only")
    question_id = await on_air(http, moderator, "Vos frais de tenue de compte baissent ?")
    check = f"{CHARTER}/check"
    draft = {"text": "Oui, c'est GRATUIT, voir https://bank.fr @bob", "network": "x"}
    body = (
        await http.post(
            check, json={**draft, "question_id": question_id}, headers=spokesperson.headers
        )
    ).json()
    assert body["blocked"] is True
    assert [(v["rule"], v["severity"], v["excerpt"]) for v in body["violations"]] == [
        ("forbidden_word", "hard", "GRATUIT"),
        ("signature", "hard", ""),
        ("mention", "hard", "@bob"),
        ("link_price", "soft", ""),
    ]
    assert body["x_spend"]["usd"] == "0.20"
    assert body["x_spend"]["url_posts"] == 1

    fixed = {"text": "Oui, dès lundi. — AB", "network": "x"}
    body = (await http.post(check, json=fixed, headers=spokesperson.headers)).json()
    assert body == {
        "violations": [],
        "blocked": False,
        "x_spend": body["x_spend"],
    }
    assert body["x_spend"]["usd"] == "0.015"
    page = (
        await http.post(check, json={**fixed, "network": "page"}, headers=spokesperson.headers)
    ).json()
    assert page["x_spend"] is None

    missing = await http.post(
        check, json={**fixed, "question_id": 999_999}, headers=spokesperson.headers
    )
    assert missing.status_code == 404
    unknown = await http.post(
        check, json={**fixed, "network": "myspace"}, headers=spokesperson.headers
    )
    assert unknown.status_code == 422
    assert (await http.post(check, json=fixed)).status_code == 401


@pytest.mark.usefixtures("live_event")
async def test_a_hard_violation_blocks_publishing(
    http: httpx.AsyncClient,
    admin: Actor,
    moderator: Actor,
    spokesperson: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    await put_charter(http, admin, **STRICT)
    question_id = await on_air(http, moderator, "Le nouveau compte est-il gratuit ?")
    before = await counts(maker)

    response = await http.post(
        f"/api/v1/questions/{question_id}/answers",
        json={"text": "Oui, il est gratuit !"},
        headers=spokesperson.headers,
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "charter_violation"
    assert "“gratuit” is forbidden by the charter." in error["message"]
    assert "— AB" in error["message"]
    assert [v["rule"] for v in error["details"]["violations"]] == ["forbidden_word", "signature"]
    # Nothing stored, nothing queued for a network, the question still on air.
    assert await counts(maker) == before == {"answers": 0, "deliveries": 0, "charter_overrides": 0}
    question = (
        await http.get(f"/api/v1/questions/{question_id}", headers=moderator.headers)
    ).json()
    assert question["status"] == "on_air"
    assert question["answer"] is None

    # Soft rules only warn: the fixed answer, however dismissive, goes out.
    response = await http.post(
        f"/api/v1/questions/{question_id}/answers",
        json={"text": "Évidemment, il ne coûte rien. — AB"},
        headers=spokesperson.headers,
    )
    assert response.status_code == 201, response.text
    assert await counts(maker) == {"answers": 1, "deliveries": 1, "charter_overrides": 0}


@pytest.mark.usefixtures("live_event")
async def test_a_spokesperson_cannot_override_the_charter(
    http: httpx.AsyncClient,
    admin: Actor,
    moderator: Actor,
    spokesperson: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    await put_charter(http, admin, **STRICT)
    question_id = await on_air(http, moderator, "Is the new account free?")
    response = await http.post(
        f"/api/v1/questions/{question_id}/answers",
        json={"text": "Yes, it is free.", "override": {"reason": "I am sure of it"}},
        headers=spokesperson.headers,
    )
    assert response.status_code == 403, response.text
    assert "Only a moderator of this LiveEvent can override the charter" in response.text
    assert await counts(maker) == {"answers": 0, "deliveries": 0, "charter_overrides": 0}
    # A reason is required: an override without one is a malformed request.
    response = await http.post(
        f"/api/v1/questions/{question_id}/answers",
        json={"text": "Yes, it is free.", "override": {"reason": ""}},
        headers=moderator.headers,
    )
    assert response.status_code == 422
    assert await counts(maker) == {"answers": 0, "deliveries": 0, "charter_overrides": 0}


@pytest.mark.usefixtures("live_event")
async def test_a_moderator_override_publishes_and_is_audited(
    http: httpx.AsyncClient,
    admin: Actor,
    moderator: Actor,
    spokesperson: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    await put_charter(http, admin, **STRICT)
    question_id = await on_air(http, moderator, "Is the new account free?")
    text = "Yes: free for the first year, then 2 € a month."
    response = await http.post(
        f"/api/v1/questions/{question_id}/answers",
        json={"text": text, "override": {"reason": "Legal approved “free” for this offer"}},
        headers=moderator.headers,
    )
    assert response.status_code == 201, response.text
    answer_id = response.json()["id"]
    assert await counts(maker) == {"answers": 1, "deliveries": 1, "charter_overrides": 1}

    listed = await http.get(f"{CHARTER}/overrides", headers=moderator.headers)
    assert listed.status_code == 200
    [audit] = listed.json()
    assert audit["username"] == "mo"
    assert audit["role"] == "moderator"
    assert audit["rules"] == ["forbidden_word", "signature"]
    assert [v["rule"] for v in audit["violations"]] == ["forbidden_word", "signature"]
    assert audit["reason"] == "Legal approved “free” for this offer"
    assert audit["answer_text"] == text
    assert (audit["answer_id"], audit["question_id"]) == (answer_id, question_id)
    assert audit["networks"] == ["page"]
    async with maker() as session:
        row = await session.get(CharterOverride, audit["id"])
        assert row is not None
        assert row.user_id is not None
        assert utcnow() - row.at < timedelta(minutes=1)
    # The audit is the moderators': a spokesperson cannot list it.
    assert (await http.get(f"{CHARTER}/overrides", headers=spokesperson.headers)).status_code == 403


@pytest.fixture
def x_server(database_url: str, sandbox: Sandbox) -> Iterator[LiveServer]:
    with serve_in_thread(
        create_app(x_settings(database_url, sandbox), run_sources=False)
    ) as server:
        yield server


async def test_the_check_runs_for_every_network_the_answer_goes_to(
    x_server: LiveServer, admin: Actor, maker: async_sessionmaker[AsyncSession]
) -> None:
    async with httpx.AsyncClient(base_url=x_server.url, timeout=10) as http:
        http.headers["X-CSRF-Token"] = (await http.get("/api/v1/csrf")).json()["token"]
        created = await http.post(
            "/api/v1/events",
            json={"slug": "ask-test", "title": "Ask", "hashtag": "AskTest"},
            headers=admin.headers,
        )
        assert created.status_code == 201, created.text
        await put_charter(
            http, admin, severity={"length": "hard"}, max_length={"x": 40, "page": None}
        )
        question_id = await on_air(http, admin, "Quand l'application revient-elle ?")
        text = "L'application revient ce soir à 20 h, avec la nouvelle messagerie."
        url = f"/api/v1/questions/{question_id}/answers"
        # Audience questions go to X as a post naming the asker: X's limit applies.
        response = await http.post(url, json={"text": text}, headers=admin.headers)
        assert response.status_code == 422, response.text
        [violation] = response.json()["error"]["details"]["violations"]
        assert (violation["rule"], violation["network"]) == ("length", "x")
        assert "Too long for X" in violation["message"]
        assert await counts(maker) == {"answers": 0, "deliveries": 0, "charter_overrides": 0}
        # The same answer for the Tribune page only breaks nothing.
        response = await http.post(
            url, json={"text": text, "x_mode": "page"}, headers=admin.headers
        )
        assert response.status_code == 201, response.text
