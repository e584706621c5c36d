"""The complaints desk over the API: complaints kept off the stage until moved, the SLA, cases'
changes reaching every desk (and no other screen), their trail, and the CSV export."""

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Role, User
from app.complaints import service
from app.complaints.models import CaseChange
from app.db import utcnow
from app.events.models import TeamMember
from app.questions.models import Question
from tests.conftest import Actor, LiveServer, ask, make_actor
from tests.wsclient import Channel

Q = "/api/v1/questions"
C = "/api/v1/complaints"


async def complaint(http: httpx.AsyncClient, moderator: Actor, text: str) -> int:
    """An audience question, categorised as a complaint by a moderator: its id."""
    question = await ask(http, text)
    response = await http.patch(
        f"{Q}/{question['id']}", json={"category": "complaint"}, headers=moderator.headers
    )
    assert response.status_code == 200, response.text
    return int(str(question["id"]))


async def stage_ids(http: httpx.AsyncClient, actor: Actor, status: str) -> list[int]:
    response = await http.get(
        f"/api/v1/events/ask-test/questions?status={status}", headers=actor.headers
    )
    return [q["id"] for q in response.json()["items"]]


async def test_a_complaint_never_reaches_the_stage_unless_moved(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, spokesperson: Actor
) -> None:
    qid = await complaint(http, moderator, "My transfer vanished and nobody answers the phone")
    refused = await http.post(f"{Q}/{qid}/approve", headers=moderator.headers)
    assert refused.status_code == 409
    assert "complaints desk" in refused.json()["error"]["message"]
    assert qid not in await stage_ids(http, spokesperson, "approved")

    # Every other way onto the stage is refused too. A question approved, then rejected, then
    # categorised a complaint: undo would bring it back to the queue.
    other = (await ask(http, "Your fees doubled, this is a scandal"))["id"]
    assert (await http.post(f"{Q}/{other}/approve", headers=moderator.headers)).status_code == 200
    # On the stage already, it cannot become a complaint without leaving it first.
    on_stage = await http.patch(
        f"{Q}/{other}", json={"category": "complaint"}, headers=moderator.headers
    )
    assert on_stage.status_code == 409
    assert "cannot become a complaint" in on_stage.json()["error"]["message"]
    assert (await http.post(f"{Q}/{other}/reject", headers=moderator.headers)).status_code == 200
    await http.patch(f"{Q}/{other}", json={"category": "complaint"}, headers=moderator.headers)
    undo = await http.post(f"{Q}/{other}/undo", headers=moderator.headers)
    assert undo.status_code == 409
    assert "complaints desk" in undo.json()["error"]["message"]
    assert await stage_ids(http, spokesperson, "approved") == []

    # The desk is the moderators': the spokesperson sees neither it nor its export.
    for path in ("complaints", "complaints.csv", "complaints/totals"):
        forbidden = await http.get(f"/api/v1/events/ask-test/{path}", headers=spokesperson.headers)
        assert forbidden.status_code == 403
    # The desk lists both, open.
    desk = (await http.get("/api/v1/events/ask-test/complaints", headers=moderator.headers)).json()
    assert [(c["question_id"], c["status"]) for c in desk["cases"]] == [
        (qid, "open"),
        (other, "open"),
    ]

    # Moved to the stage, it is a question: approved, then on air, as any other.
    moved = await http.post(f"{C}/{qid}/move-to-stage", headers=moderator.headers)
    assert moved.status_code == 200, moved.text
    case = moved.json()
    assert case["status"] == "resolved"
    assert case["moved_to_stage_at"] is not None
    assert "moved to the stage by mo" in case["resolution"]
    assert (await http.post(f"{Q}/{qid}/approve", headers=moderator.headers)).status_code == 200
    assert await stage_ids(http, spokesperson, "approved") == [qid]
    on_air = await http.post(f"{Q}/{qid}/on-air", headers=spokesperson.headers)
    assert on_air.status_code == 200
    assert on_air.json()["status"] == "on_air"
    # Its case is closed: nothing more to change there.
    closed = await http.patch(f"{C}/{qid}", json={"status": "open"}, headers=moderator.headers)
    assert closed.status_code == 409
    assert "closed" in closed.json()["error"]["message"]
    # A question that is no complaint has no case.
    plain = (await ask(http, "When does the new app ship?"))["id"]
    assert (await http.get(f"{C}/{plain}", headers=moderator.headers)).status_code == 404
    assert (
        await http.patch(f"{C}/{plain}", json={"notes": "x"}, headers=moderator.headers)
    ).status_code == 409


async def test_sla_due_and_overdue(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    fresh = await complaint(http, moderator, "Card blocked for no reason")
    late = await complaint(http, moderator, "Still waiting for my refund")
    async with maker() as session, session.begin():
        await session.execute(
            update(Question)
            .where(Question.id == late)
            .values(created_at=utcnow() - timedelta(minutes=45))
        )

    async def case(qid: int) -> dict[str, Any]:
        response = await http.get(f"{C}/{qid}", headers=moderator.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # The default SLA: 30 minutes from the complaint's arrival to a first response.
    settings = await http.get("/api/v1/events/ask-test/desk-settings", headers=moderator.headers)
    assert settings.json()["sla_minutes"] == 30
    first, second = await case(fresh), await case(late)
    assert not first["overdue"]
    assert second["overdue"]
    received = second["received_at"].replace("Z", "+00:00")
    assert second["due_at"].replace("Z", "+00:00") > received
    # A longer SLA moves every due time.
    longer = await http.patch(
        "/api/v1/events/ask-test/desk-settings",
        json={"sla_minutes": 60},
        headers=moderator.headers,
    )
    assert longer.status_code == 200
    assert not (await case(late))["overdue"]
    await http.patch(
        "/api/v1/events/ask-test/desk-settings", json={"sla_minutes": 10}, headers=moderator.headers
    )
    assert (await case(late))["overdue"]
    # The first response stops the clock.
    sent = await http.post(
        f"{C}/{late}/followup",
        json={"text": "Sorry! Please send us your reference by DM.", "via": "copied"},
        headers=moderator.headers,
    )
    assert sent.status_code == 200, sent.text
    answered = sent.json()
    assert not answered["overdue"]
    assert answered["first_response_at"] is not None
    assert answered["status"] == "waiting_customer"
    # Bad settings are a clear 4xx.
    bad = await http.patch(
        "/api/v1/events/ask-test/desk-settings", json={"sla_minutes": 0}, headers=moderator.headers
    )
    assert bad.status_code == 422


async def test_assignee_and_status_changes_reach_every_desk_and_are_kept(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
    moderator2: Actor,
    spokesperson: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    qid = await complaint(http, moderator, "Overcharged twice this month")
    base = f"{live_server.ws_url}/ws/events/ask-test"
    async with (
        Channel(f"{base}/moderation?after=0", moderator2.token) as desk,
        Channel(f"{base}/presenter?after=0", spokesperson.token) as stage,
    ):
        before = await desk.updates_until(2)
        assert [m["type"] for m in before] == ["question", "question"]
        assigned = await http.patch(
            f"{C}/{qid}", json={"assignee": "max", "version": 0}, headers=moderator.headers
        )
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["assignee"] == "max"
        message = (await desk.updates_until(3))[-1]
        assert message["type"] == "case"
        assert message["case"]["assignee"] == "max"
        assert message["case"]["question_id"] == qid

        progress = await http.patch(
            f"{C}/{qid}",
            json={"status": "in_progress", "notes": "Called the card team", "version": 1},
            headers=moderator2.headers,
        )
        assert progress.status_code == 200, progress.text
        message = (await desk.updates_until(4))[-1]
        assert (message["case"]["status"], message["case"]["notes"]) == (
            "in_progress",
            "Called the card team",
        )
        # Acting on what a desk showed before someone else's change: a 409, not an overwrite.
        stale = await http.patch(
            f"{C}/{qid}", json={"status": "resolved", "version": 1}, headers=moderator.headers
        )
        assert stale.status_code == 409
        resolved = await http.patch(
            f"{C}/{qid}", json={"status": "resolved", "version": 2}, headers=moderator.headers
        )
        assert resolved.json()["resolved_at"] is not None
        assert (await desk.updates_until(5))[-1]["case"]["status"] == "resolved"
        # The stage's screens hear nothing of the desk.
        assert [m["type"] for m in await stage.quiet_for(0.5)] == []

    # Only the LiveEvent's team can be assigned.
    await make_actor(maker, "outsider", Role.moderator)
    async with maker() as session, session.begin():
        outsider_id = await session.scalar(select(User.id).where(User.username == "outsider"))
        await session.execute(delete(TeamMember).where(TeamMember.user_id == outsider_id))
    outsider = await http.patch(
        f"{C}/{qid}", json={"assignee": "outsider"}, headers=moderator.headers
    )
    assert outsider.status_code == 409
    assert "not on this LiveEvent's team" in outsider.json()["error"]["message"]

    # Everything is in the trail: who, what, from what to what.
    async with maker() as session:
        trail = (await session.scalars(select(CaseChange).order_by(CaseChange.id))).all()
    assert [(c.action, c.before, c.after, c.actor_name) for c in trail] == [
        ("assignee", "", "max", "mo"),
        ("status", "open", "in_progress", "max"),
        ("notes", "", "Called the card team", "max"),
        ("status", "in_progress", "resolved", "mo"),
    ]


async def test_csv_for_customer_service_neutralises_formulas(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    first = await complaint(http, moderator, "Prélèvement débité deux fois, remboursez-moi")
    formula = await complaint(http, moderator, '=HYPERLINK("http://evil.example","refund")')
    await http.patch(
        f"{C}/{formula}",
        json={"assignee": "mo", "notes": "-2+3 looks like a formula", "status": "in_progress"},
        headers=moderator.headers,
    )
    response = await http.get("/api/v1/events/ask-test/complaints.csv", headers=moderator.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf"), "a byte-order mark, so Excel reads UTF-8"
    assert b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(r["question_id"]) for r in rows] == [first, formula]
    assert rows[0]["text"] == "Prélèvement débité deux fois, remboursez-moi"
    assert rows[0]["status"] == "open"
    assert rows[1]["text"] == "'" + '=HYPERLINK("http://evil.example","refund")'
    assert rows[1]["notes"] == "'-2+3 looks like a formula"
    assert rows[1]["assignee"] == "mo"
    assert rows[1]["status"] == "in_progress"
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), cell
    # Moderators only: the audience and unauthenticated clients get nothing.
    anonymous = await http.get("/api/v1/events/ask-test/complaints.csv")
    assert anonymous.status_code == 401


def apply_to_desk(
    state: dict[int, dict[str, Any]], messages: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """What desk.js does with the moderation channel's updates, for cases it knows."""
    state = {qid: dict(case) for qid, case in state.items()}
    for message in messages:
        if message["type"] == "case":
            state[message["case"]["question_id"]] = message["case"]
        elif message["type"] == "question" and message["question"]["id"] in state:
            question = message["question"]
            state[question["id"]].update(text=question["text"], question_status=question["status"])
    return state


async def test_a_stale_desk_plus_its_updates_equals_a_fresh_read(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
) -> None:
    first = await complaint(http, moderator, "Charged twice for one coffee")
    second = await complaint(http, moderator, "The app logs me out every minute")
    await http.patch(f"{C}/{second}", json={"notes": "seen"}, headers=moderator.headers)

    async def read() -> tuple[int, dict[int, dict[str, Any]]]:
        body = (
            await http.get("/api/v1/events/ask-test/complaints", headers=moderator.headers)
        ).json()
        return body["seq"], {case["question_id"]: case for case in body["cases"]}

    seq, stale = await read()
    url = f"{live_server.ws_url}/ws/events/ask-test/moderation?after={seq}"
    async with Channel(url, moderator.token) as desk:
        steps = [
            ("PATCH", f"{C}/{first}", {"assignee": "mo", "status": "in_progress"}),
            ("PATCH", f"{Q}/{first}", {"text": "Charged twice for one coffee (card ending 42)"}),
            (
                "POST",
                f"{C}/{first}/followup",
                {"text": "Sorry! Your reference by DM?", "via": "copied"},
            ),
            ("POST", f"{C}/{second}/move-to-stage", None),
            ("POST", f"{Q}/{second}/approve", None),
            # The same SLA again: the cases' deadlines stay, the desks still hear of it.
            ("PATCH", "/api/v1/events/ask-test/desk-settings", {"sla_minutes": 30}),
        ]
        for method, path, body in steps:
            response = await http.request(method, path, json=body, headers=moderator.headers)
            assert response.status_code == 200, (path, response.text)
        fresh_seq, fresh = await read()
        messages = await desk.updates_until(fresh_seq)
    assert {m["type"] for m in messages} == {"case", "question", "desk.settings"}
    assert apply_to_desk(stale, messages) == fresh
    # Replaying the updates twice changes nothing: they carry whole objects.
    assert apply_to_desk(apply_to_desk(stale, messages), messages) == fresh
    assert fresh[second]["question_status"] == "approved"
    assert fresh[first]["text"] == "Charged twice for one coffee (card ending 42)"


async def test_a_moved_complaint_made_a_complaint_again_is_back_on_the_desk(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    qid = await complaint(http, moderator, "Lost my savings interest this month")
    moved = (await http.post(f"{C}/{qid}/move-to-stage", headers=moderator.headers)).json()
    assert not moved["on_desk"]
    again = await http.patch(
        f"{Q}/{qid}", json={"category": "complaint"}, headers=moderator.headers
    )
    assert again.status_code == 200
    assert (await http.post(f"{Q}/{qid}/approve", headers=moderator.headers)).status_code == 409
    reopened = await http.patch(
        f"{C}/{qid}", json={"status": "in_progress"}, headers=moderator.headers
    )
    assert reopened.status_code == 200, reopened.text
    case = reopened.json()
    assert (case["on_desk"], case["moved_to_stage_at"], case["status"]) == (
        True,
        None,
        "in_progress",
    )
    assert case["resolved_at"] is None


async def test_a_capped_desk_lists_the_complaints_due_first_and_the_export_has_them_all(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A flood, in miniature: more complaints than the desk lists.
    monkeypatch.setattr(service, "DESK_OPEN_LIMIT", 2)
    monkeypatch.setattr(service, "DESK_RESOLVED_LIMIT", 1)
    monkeypatch.setattr(service, "EXPORT_CHUNK", 2)
    ids = [await complaint(http, moderator, f"Complaint {n}: my card is blocked") for n in range(5)]
    for qid in (ids[4], ids[3]):  # the newest resolved first, then the one before it
        done = await http.patch(
            f"{C}/{qid}", json={"status": "resolved"}, headers=moderator.headers
        )
        assert done.status_code == 200, done.text

    desk = (await http.get("/api/v1/events/ask-test/complaints", headers=moderator.headers)).json()
    # The oldest open ones (due first) are never the ones left out, as they were when the desk
    # listed the newest complaints; of the resolved, the last one resolved.
    assert [(c["question_id"], c["status"]) for c in desk["cases"]] == [
        (ids[0], "open"),
        (ids[1], "open"),
        (ids[3], "resolved"),
    ]
    assert (desk["open_total"], desk["resolved_total"]) == (3, 2)
    # The same counts alone, which such a desk reads again after changes.
    totals = await http.get("/api/v1/events/ask-test/complaints/totals", headers=moderator.headers)
    assert totals.json() == {"open_total": 3, "resolved_total": 2}
    # Customer service gets every complaint, whatever the desk lists.
    response = await http.get("/api/v1/events/ask-test/complaints.csv", headers=moderator.headers)
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [int(r["question_id"]) for r in rows] == ids
    assert [r["status"] for r in rows] == ["open"] * 3 + ["resolved"] * 2
