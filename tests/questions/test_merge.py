"""Merging duplicate questions through the API: who asked is never lost, every move is in the
audit trail and on every screen, and what cannot be merged says why."""

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Actor, LiveServer, ask, staff_everyone
from tests.realtime.test_channels import channel_url, current_seq
from tests.wsclient import Channel

Q = "/api/v1/questions"


async def merge(
    http: httpx.AsyncClient, actor: Actor, main: object, *ids: object, **body: Any
) -> httpx.Response:
    return await http.post(
        f"{Q}/{main}/merge", json={"ids": list(ids), **body}, headers=actor.headers
    )


async def view(http: httpx.AsyncClient, actor: Actor, question_id: object) -> dict[str, Any]:
    response = await http.get(f"{Q}/{question_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_merge_and_unmerge_are_audited_and_reach_every_screen(
    http: httpx.AsyncClient, live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    main = (await ask(http, "Is the new card free?"))["id"]
    queued = (await ask(http, "Does the new card cost anything?"))["id"]
    pending = (await ask(http, "new card free??"))["id"]
    for question_id in (main, queued):
        response = await http.post(f"{Q}/{question_id}/approve", headers=moderator.headers)
        assert response.status_code == 200
    before = await view(http, moderator, main)
    seq = await current_seq(http)
    async with (
        Channel(channel_url(live_server, "moderation", after=seq), moderator.token) as mod,
        Channel(channel_url(live_server, "presenter", after=seq), moderator.token) as presenter,
    ):
        assert (await mod.recv())["type"] == "hello"
        assert (await presenter.recv())["type"] == "hello"
        response = await merge(http, moderator, main, queued, pending, version=before["version"])
        assert response.status_code == 200, response.text
        merged = response.json()
        mod_updates = await mod.updates_until(await current_seq(http))
        presenter_updates = await presenter.quiet_for(0.4)
    assert [a["id"] for a in merged["askers"]] == [queued, pending]
    assert merged["asked_by"] == 3
    assert merged["version"] > before["version"], "its view changed: a newer version"
    # Every console sees the absorbed questions leave and the group grow.
    seen = {m["question"]["id"]: m["question"] for m in mod_updates}
    assert seen[queued]["status"] == seen[pending]["status"] == "merged"
    assert seen[queued]["merged_into_id"] == main
    assert seen[main]["askers"] == merged["askers"]
    # The presenter saw the queued one leave its queue, never the pending one.
    assert {"type": "question.removed", "id": queued} in [
        {k: m[k] for k in ("type", "id") if k in m} for m in presenter_updates
    ]
    assert pending not in {m.get("question", {}).get("id") for m in presenter_updates}
    queue = await http.get(
        "/api/v1/events/ask-test/questions?status=approved", headers=moderator.headers
    )
    assert [q["id"] for q in queue.json()["items"]] == [main]
    # The audit trail: on the absorbed question, and in the main question's history too.
    trail = (await http.get(f"{Q}/{queued}/history", headers=moderator.headers)).json()
    assert trail[-1]["action"] == "merge"
    assert (trail[-1]["from_status"], trail[-1]["to_status"]) == ("approved", "merged")
    assert trail[-1]["merged_into_id"] == main
    assert trail[-1]["actor_id"] is not None
    main_trail = (await http.get(f"{Q}/{main}/history", headers=moderator.headers)).json()
    assert [(t["question_id"], t["action"]) for t in main_trail[-2:]] == [
        (queued, "merge"),
        (pending, "merge"),
    ]
    # A merged question takes no action but unmerge (undo says so).
    refused = await http.post(f"{Q}/{queued}/on-air", headers=moderator.headers)
    assert refused.status_code == 409
    assert "merged" in refused.json()["error"]["message"]
    refused = await http.post(f"{Q}/{queued}/undo", headers=moderator.headers)
    assert refused.status_code == 409
    assert "unmerge" in refused.json()["error"]["message"]

    seq = await current_seq(http)
    async with Channel(channel_url(live_server, "presenter", after=seq), moderator.token) as ws:
        assert (await ws.recv())["type"] == "hello"
        response = await http.post(
            f"{Q}/{queued}/unmerge",
            json={"version": seen[queued]["version"]},
            headers=moderator.headers,
        )
        assert response.status_code == 200, response.text
        back = await ws.updates_until(await current_seq(http))
    assert response.json()["status"] == "approved"
    assert response.json()["merged_into_id"] is None
    # Back in the presenter's queue, and the group shrinks there too.
    shown = {m["question"]["id"]: m["question"] for m in back if m["type"] == "question"}
    assert shown[queued]["status"] == "approved"
    assert [a["id"] for a in shown[main]["askers"]] == [pending]
    trail = (await http.get(f"{Q}/{queued}/history", headers=moderator.headers)).json()
    assert (trail[-1]["action"], trail[-1]["to_status"]) == ("unmerge", "approved")
    pending_back = await http.post(f"{Q}/{pending}/unmerge", headers=moderator.headers)
    assert pending_back.json()["status"] == "pending"
    assert (await view(http, moderator, main))["askers"] == []


async def test_merging_across_live_events_is_refused(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    response = await http.post(
        "/api/v1/events",
        json={"slug": "other-show", "title": "Other", "hashtag": "OtherShow"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    await staff_everyone(maker)
    main = (await ask(http, "Is the new card free?"))["id"]
    elsewhere = (await ask(http, "Is the new card free?", slug="other-show"))["id"]
    response = await merge(http, moderator, main, elsewhere)
    assert response.status_code == 404
    assert f"no question {elsewhere} in this LiveEvent" in response.json()["error"]["message"]
    assert (await view(http, moderator, elsewhere))["status"] == "pending"
    assert (await view(http, moderator, main))["askers"] == []


async def test_what_cannot_be_merged_says_why(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    main = (await ask(http, "Is the new card free?"))["id"]
    other = await view(http, moderator, (await ask(http, "Is it free, the new card?"))["id"])
    itself = await merge(http, moderator, main, main)
    assert itself.status_code == 400
    assert "into itself" in itself.json()["error"]["message"]
    # A stale version of the absorbed question: someone changed it meanwhile.
    await http.post(f"{Q}/{other['id']}/approve", headers=moderator.headers)
    stale = await merge(http, moderator, main, other["id"], versions=[other["version"]])
    assert stale.status_code == 409
    assert "reload" in stale.json()["error"]["message"]
    bad = await merge(http, moderator, main, other["id"], versions=[1, 2])
    assert bad.status_code == 422
    # On air: it is being read out; merge the others into it instead.
    await http.post(f"{Q}/{other['id']}/on-air", headers=moderator.headers)
    on_air = await merge(http, moderator, main, other["id"])
    assert on_air.status_code == 409
    assert "on_air" in on_air.json()["error"]["message"]
    assert (await merge(http, moderator, other["id"], main)).status_code == 200
    # The group is answered: the answer served its askers, who stay with it; nothing joins it.
    answered = await http.post(
        f"{Q}/{other['id']}/answers", json={"text": "It is free."}, headers=moderator.headers
    )
    assert answered.status_code == 201, answered.text
    late = (await ask(http, "free card?"))["id"]
    refused = await merge(http, moderator, other["id"], late)
    assert refused.status_code == 409
    assert "answered" in refused.json()["error"]["message"]
    refused = await http.post(f"{Q}/{main}/unmerge", headers=moderator.headers)
    assert refused.status_code == 409
    assert "stays with it" in refused.json()["error"]["message"]
    # Archived after its answer: the answer still went to them.
    await http.post(f"{Q}/{other['id']}/archive", headers=moderator.headers)
    refused = await http.post(f"{Q}/{main}/unmerge", headers=moderator.headers)
    assert refused.status_code == 409
    await http.post(f"{Q}/{other['id']}/undo", headers=moderator.headers)
    response = await http.get("/api/v1/events/ask-test/public")
    public = response.json()
    assert [(q["id"], q["asked_by"]) for q in public["answered"]] == [(other["id"], 2)]
    # The audience learns how many asked, never who else or what they wrote.
    assert "askers" not in public["answered"][0]
    assert "Is the new card free?" not in response.text
