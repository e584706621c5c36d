"""x-search against the sandbox: since_id and next_token by X's rules, pace from the rate-limit
headers, and a restart that resumes from the stored cursor."""

import asyncio
import time

import httpx

from app.ingest.sources.x_search import next_interval
from app.x.reading import RateLimit, SearchResult
from tests.conftest import Actor, LiveServer
from tests.x.conftest import Sandbox, message, wait_until
from tests.x.test_stream import make_show, pending_count, source_state


def result(remaining: int | None, reset_in: float | None) -> SearchResult:
    reset = time.time() + reset_in if reset_in is not None else None
    return SearchResult([], None, RateLimit(450, remaining, reset), 1)


def test_the_pace_follows_the_rate_limit() -> None:
    assert next_interval(result(None, None), 5.0) == 5.0
    # 100 requests left for 900 s: one every 9 s.
    assert 8.5 < next_interval(result(100, 900), 5.0) <= 9.0
    # Plenty left: the minimum.
    assert next_interval(result(449, 900), 5.0) == 5.0
    # None left: wait for the reset.
    assert 29 < next_interval(result(0, 30), 5.0) <= 30


async def test_search_pages_resumes_and_never_duplicates(
    x_server: LiveServer, sandbox: Sandbox, admin: Actor
) -> None:
    sandbox.publish([message(i) for i in range(250)])  # three pages of 100
    async with httpx.AsyncClient(base_url=x_server.url, timeout=10) as http:
        await make_show(http, admin)
        added = await http.post(
            "/api/v1/events/ask-test/sources",
            json={"kind": "x-search", "min_interval_seconds": 0.1},
            headers=admin.headers,
        )
        assert added.status_code == 201, added.text

        async def count_is(n: int) -> bool:
            return await pending_count(http, admin) == n

        await wait_until(lambda: count_is(250))
        assert sandbox.stats()["requests"]["search"] >= 3, "paged with next_token"
        sandbox.publish([message(250 + i) for i in range(10)])
        await wait_until(lambda: count_is(260))
        cursor = (await source_state(http, admin))["cursor"]
        assert cursor == message(259)["data"]["id"]
        source_id = (await source_state(http, admin))["id"]
        sandbox.publish([message(260 + i) for i in range(5)])
        restarted = await http.post(
            f"/api/v1/events/ask-test/sources/{source_id}/restart", headers=admin.headers
        )
        assert restarted.status_code == 200, restarted.text
        await wait_until(lambda: count_is(265))
        await asyncio.sleep(0.5)  # more polls: still nothing twice
        assert await pending_count(http, admin) == 265
