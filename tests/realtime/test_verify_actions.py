"""Like zulip's verify_action: for each action, stale state plus the updates emitted equals a
fresh read, on each of the three channels. And the public channel never sees what it must not.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.conftest import Actor, LiveServer, ask
from tests.realtime.test_channels import channel_url, current_seq
from tests.wsclient import Channel

State = dict[int, dict[str, Any]]
PRESENTER_STATUSES = {"approved", "on_air", "answered"}


async def read_moderation(http: httpx.AsyncClient, actor: Actor) -> State:
    page = (
        await http.get("/api/v1/events/ask-test/questions?limit=500", headers=actor.headers)
    ).json()
    return {q["id"]: q for q in page["items"]}


async def read_presenter(http: httpx.AsyncClient, actor: Actor) -> State:
    return {
        i: q
        for i, q in (await read_moderation(http, actor)).items()
        if q["status"] in PRESENTER_STATUSES
    }


async def read_public(http: httpx.AsyncClient, _actor: Actor) -> State:
    snap = (await http.get("/api/v1/events/ask-test/public")).json()
    items = snap["answered"] + ([snap["on_air"]] if snap["on_air"] else [])
    return {q["id"]: q for q in items}


def apply(state: State, messages: list[dict[str, Any]]) -> State:
    state = dict(state)
    for message in messages:
        if message["type"] == "question":
            state[message["question"]["id"]] = message["question"]
        elif message["type"] == "question.removed":
            state.pop(message["id"], None)
        else:
            raise AssertionError(f"unexpected update {message['type']}")
    return state


READERS = {"moderation": read_moderation, "presenter": read_presenter, "public": read_public}


async def test_stale_state_plus_updates_equals_fresh_read(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
    spokesperson: Actor,
) -> None:
    ids = [(await ask(http, f"Question number {i}?"))["id"] for i in range(6)]

    def post(
        path: str, body: dict[str, Any] | None = None, actor: Actor = moderator
    ) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: http.post(path, json=body, headers=actor.headers)

    q = "/api/v1/questions"
    actions: list[tuple[str, Callable[[], Awaitable[httpx.Response]]]] = [
        ("approve", post(f"{q}/{ids[0]}/approve")),
        ("approve another", post(f"{q}/{ids[1]}/approve")),
        ("reject", post(f"{q}/{ids[2]}/reject")),
        ("on air", post(f"{q}/{ids[0]}/on-air", actor=spokesperson)),
        ("on air replaces", post(f"{q}/{ids[1]}/on-air")),
        (
            "edit on air",
            lambda: http.patch(
                f"{q}/{ids[1]}", json={"text": "Edited text?"}, headers=moderator.headers
            ),
        ),
        ("undo on air", post(f"{q}/{ids[1]}/undo")),
        ("on air again", post(f"{q}/{ids[1]}/on-air")),
        ("answer", post(f"{q}/{ids[1]}/answers", {"text": "Yes, we do."}, spokesperson)),
        ("archive answered", post(f"{q}/{ids[1]}/archive")),
        ("archive pending", post(f"{q}/{ids[3]}/archive")),
        ("undo archive", post(f"{q}/{ids[3]}/undo")),
        (
            "note",
            lambda: http.patch(
                f"{q}/{ids[4]}", json={"note": "ask about fees"}, headers=moderator.headers
            ),
        ),
        ("merge pending", post(f"{q}/{ids[0]}/merge", {"ids": [ids[4], ids[5]]})),
        ("approve to merge", post(f"{q}/{ids[3]}/approve")),
        ("merge queued", post(f"{q}/{ids[0]}/merge", {"ids": [ids[3]]})),
        ("unmerge", post(f"{q}/{ids[3]}/unmerge")),
        ("group on air", post(f"{q}/{ids[0]}/on-air")),
        ("answer group", post(f"{q}/{ids[0]}/answers", {"text": "For all."}, spokesperson)),
        (
            "audience asks",
            lambda: http.post("/api/v1/events/ask-test/questions", json={"text": "A new one"}),
        ),
    ]
    for label, action in actions:
        seq = await current_seq(http)
        stale = {name: await read(http, moderator) for name, read in READERS.items()}
        clients = {
            name: Channel(
                channel_url(live_server, name, after=seq),
                None if name == "public" else moderator.token,
            )
            for name in READERS
        }
        for client in clients.values():
            await client.__aenter__()
            assert (await client.recv())["type"] == "hello"
        response = await action()
        assert response.status_code in (200, 201), (label, response.text)
        target = await current_seq(http)
        for name, client in clients.items():
            if name == "moderation":
                messages = await client.updates_until(target)
            else:
                messages = await client.quiet_for(0.4)
            await client.__aexit__(None, None, None)
            fresh = await READERS[name](http, moderator)
            assert apply(stale[name], messages) == fresh, (label, name)


async def test_public_channel_never_carries_pending_or_rejected_text(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Actor,
) -> None:
    async with Channel(channel_url(live_server, "public")) as public:
        assert (await public.recv())["type"] == "hello"
        pending = await ask(http, "SECRET-PENDING never approved")
        rejected = await ask(http, "SECRET-REJECTED rude words")
        approved_then_rejected = await ask(http, "SECRET-APPROVED-THEN-REJECTED")
        shown = await ask(http, "Shown on air")
        q = "/api/v1/questions"
        for path in (
            f"{rejected['id']}/reject",
            f"{approved_then_rejected['id']}/approve",
            f"{approved_then_rejected['id']}/reject",
            f"{shown['id']}/approve",
            f"{shown['id']}/on-air",
            f"{shown['id']}/undo",
            f"{shown['id']}/on-air",
        ):
            response = await http.post(f"{q}/{path}", headers=moderator.headers)
            assert response.status_code == 200, response.text
        await http.patch(
            f"{q}/{pending['id']}", json={"text": "SECRET-EDITED"}, headers=moderator.headers
        )
        messages = await public.quiet_for(1.0)
    frames = "\n".join(public.frames)
    for secret in ("SECRET-PENDING", "SECRET-REJECTED", "SECRET-APPROVED", "SECRET-EDITED"):
        assert secret not in frames
    statuses = [m["question"]["status"] for m in messages if m["type"] == "question"]
    assert statuses == ["on_air", "on_air"]
    assert [m["type"] for m in messages] == ["question", "question.removed", "question"]
    # No note, no moderator name, no version on the public channel either.
    assert all(
        "note" not in m.get("question", {}) and "status_changed_by" not in m.get("question", {})
        for m in messages
    )
    page = (await http.get("/live/ask-test")).text
    snapshot = (await http.get("/api/v1/events/ask-test/public")).text
    for body in (page, snapshot):
        assert "SECRET" not in body
        assert "Shown on air" in body
