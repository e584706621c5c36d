"""x-stream against the sandbox: tweepy's StreamingClient for real, disconnects, 429s, gap fill."""

import asyncio
from typing import Any

import httpx

from tests.conftest import Actor, LiveServer, browser_login
from tests.x.conftest import ACCOUNT, Sandbox, message, wait_until


async def make_show(http: httpx.AsyncClient, admin: Actor) -> None:
    response = await http.post(
        "/api/v1/events",
        json={
            "slug": "ask-test",
            "title": "Ask Test",
            "hashtag": "AskTest",
            "answering_handle": ACCOUNT,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text


async def source_state(http: httpx.AsyncClient, admin: Actor) -> dict[str, Any]:
    sources = (await http.get("/api/v1/events/ask-test/sources", headers=admin.headers)).json()
    state: dict[str, Any] = sources[0]
    return state


async def pending_count(http: httpx.AsyncClient, admin: Actor) -> int:
    counts = (await http.get("/api/v1/events/ask-test/counts", headers=admin.headers)).json()
    return int(counts["status"]["pending"])


async def test_every_post_exactly_once_through_disconnects_and_429s(
    x_server: LiveServer, sandbox: Sandbox, admin: Actor
) -> None:
    async with httpx.AsyncClient(base_url=x_server.url, timeout=10) as http:
        await make_show(http, admin)
        added = await http.post(
            "/api/v1/events/ask-test/sources", json={"kind": "x-stream"}, headers=admin.headers
        )
        assert added.status_code == 201, added.text
        assert added.json()["rule"] == "#AskTest -is:retweet"

        async def connected() -> bool:
            return bool((await source_state(http, admin))["status"] == "connected")

        await wait_until(connected)
        published = 0
        for chunk in range(10):
            # Each disconnect hits a live connection: wait until Tribune is back on the stream.
            await wait_until(lambda: sandbox.stats()["open_streams"] == 1)
            sandbox.publish([message(published + i) for i in range(50)])
            published += 50
            if chunk % 2 == 1:
                if chunk == 5:
                    # A burst of 429s: X's 429 backoff applies (60 s, scaled down here).
                    sandbox.control("faults", {"endpoint": "stream", "statuses": [429, 429, 429]})
                else:
                    sandbox.control("faults", {"endpoint": "stream", "statuses": [503]})
                sandbox.control("disconnect")
                # Published while Tribune is away: only the gap fill can bring these.
                sandbox.publish([message(published + i) for i in range(20)])
                published += 20
        total = published

        async def all_in() -> bool:
            return await pending_count(http, admin) >= total

        await wait_until(all_in, within=60)
        await wait_until(connected)
        page = (
            await http.get(
                "/api/v1/events/ask-test/questions?status=pending&limit=500", headers=admin.headers
            )
        ).json()
        rest = (
            await http.get(
                "/api/v1/events/ask-test/questions?status=pending&limit=500&offset=500",
                headers=admin.headers,
            )
        ).json()
        texts = [q["text"] for q in page["items"] + rest["items"]]
    assert len(texts) == total
    assert len(set(texts)) == total, "no post ingested twice"
    stats = sandbox.stats()
    assert stats["stream_connections"] >= 6, "five disconnects, five reconnects"
    assert stats["stream_deliveries"] < total, "some posts could only come from the gap fill"
    assert stats["requests"].get("search", 0) >= 5


async def test_401_stops_the_source_with_a_reason_and_no_reconnect_loop(
    x_server: LiveServer, sandbox: Sandbox, admin: Actor
) -> None:
    async with httpx.AsyncClient(base_url=x_server.url, timeout=10) as http:
        await make_show(http, admin)
        await http.post(
            "/api/v1/events/ask-test/sources", json={"kind": "x-stream"}, headers=admin.headers
        )
        await wait_until(lambda: _connected_id(http, admin))
        sandbox.control("faults", {"endpoint": "stream", "statuses": [401]})
        sandbox.control("disconnect")

        async def stopped() -> dict[str, Any] | None:
            state = await source_state(http, admin)
            return state if state["status"] == "stopped" else None

        state = await wait_until(stopped)
        assert "401" in state["status_detail"]
        assert "will not retry" in state["status_detail"]
        attempts = sandbox.stats()["requests"]["stream"]
        await asyncio.sleep(1.0)
        assert sandbox.stats()["requests"]["stream"] == attempts, "no reconnect loop"
        # Restarted with X still refusing, it stops at once, at start.
        sandbox.control("faults", {"endpoint": "rules", "statuses": [401]})
        restarted = await http.post(
            f"/api/v1/events/ask-test/sources/{state['id']}/restart", headers=admin.headers
        )
        assert restarted.status_code == 200

        async def stopped_again() -> dict[str, Any] | None:
            again = await source_state(http, admin)
            return again if again["status"] == "stopped" and again["status_detail"] else None

        again = await wait_until(stopped_again)
        assert "401" in again["status_detail"]
        assert sandbox.stats()["requests"]["stream"] == attempts, "it never reached the stream"
        # The operator's page says why.
        await browser_login(http, "ada", "password-123")
        page = await http.get("/admin/events/ask-test")
    assert page.status_code == 200
    assert "stopped" in page.text
    assert "X refused the credentials (HTTP 401)" in page.text


async def _connected_id(http: httpx.AsyncClient, admin: Actor) -> int | None:
    state = await source_state(http, admin)
    return int(state["id"]) if state["status"] == "connected" else None
