"""Bad input gets a 4xx with a message, never a 500, and nothing stored is lost."""

from typing import Any

import httpx
import pytest

from tests.conftest import Actor, ask


def assert_clear_error(response: httpx.Response, status: int, words: str = "") -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"], "an error says what is wrong"
    assert words.lower() in error["message"].lower(), error["message"]


async def test_malformed_and_mistyped_bodies(
    http: httpx.AsyncClient, live_event: dict[str, Any], admin: Actor, moderator: Actor
) -> None:
    url = "/api/v1/events/ask-test/questions"
    assert_clear_error(
        await http.post(url, content=b"{not json", headers={"Content-Type": "application/json"}),
        422,
        "json",
    )
    assert_clear_error(await http.post(url, json={"text": 42}), 422, "text")
    assert_clear_error(await http.post(url, json={"text": ""}), 422, "text")
    assert_clear_error(await http.post(url, json={"text": "   "}), 422, "text")
    assert_clear_error(await http.post(url, json={"text": "x" * 501}), 422, "500")
    assert_clear_error(
        await http.post(url, json={"text": "ok", "author_name": "n" * 81}), 422, "author_name"
    )
    assert_clear_error(await http.post(url, json={"text": "ok", "surprise": 1}), 422, "surprise")
    assert_clear_error(await http.post(url, json=["text"]), 422)
    events = "/api/v1/events"
    assert_clear_error(
        await http.post(
            events, json={"slug": "Bad Slug", "title": "t", "hashtag": "x"}, headers=admin.headers
        ),
        422,
        "slug",
    )
    assert_clear_error(
        await http.post(events, json={"slug": "ok", "title": "t"}, headers=admin.headers),
        422,
        "hashtag",
    )
    assert_clear_error(
        await http.post(
            events,
            json={
                "slug": "ok",
                "title": "t",
                "hashtag": "x",
                "stream_url": "http://insecure.example",
            },
            headers=admin.headers,
        ),
        422,
        "https",
    )
    assert_clear_error(
        await http.post(
            events, json={"slug": "ask-test", "title": "t", "hashtag": "x"}, headers=admin.headers
        ),
        409,
        "already exists",
    )
    assert_clear_error(
        await http.get("/api/v1/events/ask-test/questions?limit=0", headers=moderator.headers),
        422,
        "limit",
    )
    assert_clear_error(
        await http.get("/api/v1/events/ask-test/questions?status=maybe", headers=moderator.headers),
        422,
        "status",
    )
    assert_clear_error(
        await http.post("/api/v1/questions/abc/approve", headers=moderator.headers), 422
    )
    question = await ask(http, "A real question, approved with a mistyped version")
    assert_clear_error(
        await http.post(
            f"/api/v1/questions/{question['id']}/approve",
            json={"version": "new"},
            headers=moderator.headers,
        ),
        422,
        "version",
    )


async def test_unknown_things_are_404(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    assert_clear_error(await http.get("/api/v1/events/nope"), 404, "nope")
    assert_clear_error(
        await http.post("/api/v1/events/nope/questions", json={"text": "hi"}), 404, "nope"
    )
    assert_clear_error(
        await http.post("/api/v1/questions/999/approve", headers=moderator.headers), 404, "999"
    )
    assert_clear_error(await http.get("/api/v1/nothing-here"), 404)
    assert (await http.get("/live/nope")).status_code == 404


async def test_credentials_and_roles(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, spokesperson: Actor
) -> None:
    question = await ask(http, "Who may approve me?")
    approve = f"/api/v1/questions/{question['id']}/approve"
    assert_clear_error(await http.post(approve), 401, "log in")
    assert_clear_error(
        await http.post(approve, headers={"Authorization": "Bearer trb_forged"}), 401, "token"
    )
    assert_clear_error(
        await http.post(approve, headers={"Authorization": "Basic abc"}), 401, "bearer"
    )
    assert_clear_error(await http.post(approve, headers=spokesperson.headers), 403, "moderator")
    assert_clear_error(
        await http.post(
            "/api/v1/events",
            json={"slug": "x", "title": "x", "hashtag": "x"},
            headers=moderator.headers,
        ),
        403,
        "admin",
    )
    assert_clear_error(await http.get("/api/v1/events/ask-test/questions?status=pending"), 401)
    # Nothing was changed by any of that.
    current = (
        await http.get(f"/api/v1/questions/{question['id']}", headers=moderator.headers)
    ).json()
    assert current["status"] == "pending"
    assert current["version"] == 1


async def test_illegal_transition_is_409_and_changes_nothing(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    question = await ask(http, "Straight to air?")
    response = await http.post(
        f"/api/v1/questions/{question['id']}/on-air", headers=moderator.headers
    )
    assert_clear_error(response, 409, "cannot on air a question that is pending")
    seq = (await http.get("/api/v1/events/ask-test")).json()["last_seq"]
    assert seq == 1, "a refused action emits no update"


async def test_answer_needs_text_and_an_answerable_question(
    http: httpx.AsyncClient, live_event: dict[str, Any], spokesperson: Actor
) -> None:
    question = await ask(http, "Will you answer?")
    url = f"/api/v1/questions/{question['id']}/answers"
    assert_clear_error(
        await http.post(url, json={"text": ""}, headers=spokesperson.headers), 422, "text"
    )
    assert_clear_error(
        await http.post(url, json={"text": "Too early"}, headers=spokesperson.headers),
        409,
        "pending",
    )


@pytest.mark.parametrize("state", ["ended"])
async def test_closed_shows_take_no_questions(
    http: httpx.AsyncClient, live_event: dict[str, Any], admin: Actor, state: str
) -> None:
    response = await http.patch(
        "/api/v1/events/ask-test", json={"state": state}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert_clear_error(
        await http.post("/api/v1/events/ask-test/questions", json={"text": "Too late?"}),
        409,
        "ended",
    )
    assert_clear_error(
        await http.patch(
            "/api/v1/events/ask-test", json={"state": "scheduled"}, headers=admin.headers
        ),
        409,
        "cannot go",
    )


async def test_nulls_clear_only_what_may_be_empty_and_huge_ids_are_refused(
    http: httpx.AsyncClient, live_event: dict[str, Any], admin: Actor, moderator: Actor
) -> None:
    url = "/api/v1/events/ask-test"
    with_stream = await http.patch(
        url, json={"stream_url": "https://www.youtube.com/watch?v=abcdefgh"}, headers=admin.headers
    )
    assert with_stream.status_code == 200, with_stream.text
    for field in ("title", "hashtags", "description", "answering_handle", "embed_origins"):
        assert_clear_error(
            await http.patch(url, json={field: None}, headers=admin.headers), 422, "null"
        )
    assert_clear_error(await http.patch(url, json={"hashtags": []}, headers=admin.headers), 422)
    cleared = await http.patch(
        url, json={"stream_url": None, "starts_at": None}, headers=admin.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["stream_url"] == ""
    assert cleared.json()["title"] == "Ask Test Bank"
    question = await ask(http, "Kept as it is")
    assert_clear_error(
        await http.patch(
            f"/api/v1/questions/{question['id']}", json={"text": None}, headers=moderator.headers
        ),
        422,
        "null",
    )
    assert_clear_error(await http.get(f"/api/v1/questions/{2**70}", headers=moderator.headers), 422)
    assert_clear_error(
        await http.get(f"{url}/questions?offset={2**70}", headers=moderator.headers), 422
    )
    kept = await http.get(f"/api/v1/questions/{question['id']}", headers=moderator.headers)
    assert kept.json()["text"] == "Kept as it is"


async def test_nul_characters_are_refused_or_dropped_on_every_backend(
    http: httpx.AsyncClient, live_event: dict[str, Any], admin: Actor, moderator: Actor
) -> None:
    """PostgreSQL cannot store U+0000 and SQLite can: both refuse it alike, with a 400."""
    url = "/api/v1/events/ask-test"
    refused = [
        await http.get("/api/v1/events/ask%00test"),
        await http.get(f"{url}/questions?q=fees%00", headers=moderator.headers),
        await http.patch(url, json={"title": "Ask\u0000Test"}, headers=admin.headers),
        await http.put(f"{url}/team/mo%00", json={"role": "moderator"}, headers=admin.headers),
    ]
    for response in refused:
        assert_clear_error(response, 400, "NUL")
    assert (await http.get(url)).json()["title"] == "Ask Test Bank", "nothing was changed"
    # The audience's text is cleaned like a network post's: the invisible NUL is dropped.
    question = await ask(http, "Why\u0000 the fees?")
    assert question["text"] == "Why the fees?"
