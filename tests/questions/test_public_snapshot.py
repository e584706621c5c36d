"""The audience snapshot is cacheable: a CDN may keep it a few seconds, and a conditional
request for an unchanged one is a 304."""

from typing import Any

import httpx

from tests.conftest import Actor, ask


async def test_the_snapshot_carries_an_etag_and_answers_304_while_unchanged(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    url = "/api/v1/events/ask-test/public"
    first = await http.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=2"
    again = await http.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    # A pending question changes the log but not what the audience sees... the ETag moves on
    # anyway (it follows the log): a fresh copy, never a stale 304.
    question = await ask(http, "Will the app work abroad?")
    for action in ("approve", "on-air"):
        done = await http.post(
            f"/api/v1/questions/{question['id']}/{action}", headers=moderator.headers
        )
        assert done.status_code == 200, done.text
    changed = await http.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["on_air"]["text"] == "Will the app work abroad?"
    assert changed.json()["seq"] == 3
