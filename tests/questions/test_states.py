"""The lifecycle: every legal and illegal transition, in the machine and through the API."""

import httpx
import pytest

from app.questions.states import TRANSITIONS, Action, IllegalTransition, Status, next_status
from tests.conftest import Actor, ask

LEGAL: dict[tuple[Action, Status], Status] = {
    (Action.approve, Status.pending): Status.approved,
    (Action.reject, Status.pending): Status.rejected,
    (Action.reject, Status.approved): Status.rejected,
    (Action.on_air, Status.approved): Status.on_air,
    (Action.answer, Status.approved): Status.answered,
    (Action.answer, Status.on_air): Status.answered,
    (Action.mark_answered, Status.approved): Status.answered,
    (Action.mark_answered, Status.on_air): Status.answered,
    (Action.requeue, Status.on_air): Status.approved,
    # A merged question goes with its group (unmerge it first).
    **{
        (Action.archive, s): Status.archived
        for s in Status
        if s not in (Status.archived, Status.merged)
    },
}


@pytest.mark.parametrize("action", list(TRANSITIONS))
@pytest.mark.parametrize("status", list(Status))
def test_every_pair_is_legal_or_says_why(action: Action, status: Status) -> None:
    if (action, status) in LEGAL:
        assert next_status(action, status) == LEGAL[(action, status)]
    else:
        with pytest.raises(IllegalTransition, match=f"that is {status.value}"):
            next_status(action, status)


async def _to(http: httpx.AsyncClient, actor: Actor, status: Status) -> dict[str, object]:
    """A question brought to ``status`` through the API."""
    question = await ask(http, f"How do I reach status {status.value}?")
    path = {
        Status.pending: [],
        Status.approved: ["approve"],
        Status.on_air: ["approve", "on-air"],
        Status.rejected: ["reject"],
        Status.archived: ["archive"],
        Status.answered: ["approve", "on-air", "answers"],
        Status.merged: [],
    }[status]
    if status == Status.merged:
        main = await ask(http, "The question it is a duplicate of?")
        response = await http.post(
            f"/api/v1/questions/{main['id']}/merge",
            json={"ids": [question["id"]]},
            headers=actor.headers,
        )
        assert response.status_code == 200, response.text
    for step in path:
        body = {"text": "An answer."} if step == "answers" else None
        response = await http.post(
            f"/api/v1/questions/{question['id']}/{step}", json=body, headers=actor.headers
        )
        assert response.status_code in (200, 201), response.text
    response = await http.get(f"/api/v1/questions/{question['id']}", headers=actor.headers)
    current: dict[str, object] = response.json()
    assert current["status"] == status.value
    return current


API_ACTIONS = {
    "approve": Action.approve,
    "reject": Action.reject,
    "on-air": Action.on_air,
    "archive": Action.archive,
}


@pytest.mark.parametrize("path", list(API_ACTIONS))
@pytest.mark.parametrize("status", list(Status))
async def test_api_transitions(
    http: httpx.AsyncClient,
    live_event: dict[str, object],
    moderator: Actor,
    path: str,
    status: Status,
) -> None:
    question = await _to(http, moderator, status)
    response = await http.post(
        f"/api/v1/questions/{question['id']}/{path}", headers=moderator.headers
    )
    expected = LEGAL.get((API_ACTIONS[path], status))
    if expected is None:
        assert response.status_code == 409
        assert f"that is {status.value}" in response.json()["error"]["message"]
    else:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == expected.value
        history = await http.get(
            f"/api/v1/questions/{question['id']}/history", headers=moderator.headers
        )
        last = history.json()[-1]
        assert (last["from_status"], last["to_status"]) == (status.value, expected.value)


async def test_undo_walks_back_and_stops(
    http: httpx.AsyncClient, live_event: dict[str, object], moderator: Actor
) -> None:
    question = await _to(http, moderator, Status.on_air)
    qid = question["id"]
    undo = f"/api/v1/questions/{qid}/undo"
    first = await http.post(undo, headers=moderator.headers)
    assert first.json()["status"] == "approved"
    second = await http.post(undo, headers=moderator.headers)
    assert second.json()["status"] == "pending"
    third = await http.post(undo, headers=moderator.headers)
    assert third.status_code == 409
    assert "nothing to undo" in third.json()["error"]["message"]


async def test_undo_of_a_published_answer_is_refused(
    http: httpx.AsyncClient, live_event: dict[str, object], moderator: Actor
) -> None:
    question = await _to(http, moderator, Status.answered)
    response = await http.post(
        f"/api/v1/questions/{question['id']}/undo", headers=moderator.headers
    )
    assert response.status_code == 409
    assert "cannot be undone" in response.json()["error"]["message"]


async def test_one_question_on_air_at_a_time(
    http: httpx.AsyncClient, live_event: dict[str, object], moderator: Actor
) -> None:
    first = await _to(http, moderator, Status.on_air)
    second = await _to(http, moderator, Status.on_air)
    back = (await http.get(f"/api/v1/questions/{first['id']}", headers=moderator.headers)).json()
    assert back["status"] == "approved"
    queue = (
        await http.get(
            "/api/v1/events/ask-test/questions?status=approved", headers=moderator.headers
        )
    ).json()["items"]
    assert queue[0]["id"] == first["id"], "the requeued question goes to the head of the queue"
    on_air = (
        await http.get("/api/v1/events/ask-test/questions?status=on_air", headers=moderator.headers)
    ).json()["items"]
    assert [q["id"] for q in on_air] == [second["id"]]
