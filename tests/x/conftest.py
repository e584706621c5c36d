"""Tribune's real X code (tweepy over HTTP) against the sandbox X API on 127.0.0.1."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.xsandbox.app import create_sandbox_app
from app.xsandbox.state import SandboxConfig, SandboxState
from tests.conftest import TEST_SECRET, LiveServer, serve_in_thread

ACCOUNT = "AuroraBank"
ACCOUNT_ID = "1500000000000000001"
BASE_ID = 1_900_000_000_000_000_000
T0 = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


@dataclass
class Sandbox:
    url: str
    state: SandboxState
    http: httpx.Client

    def control(self, path: str, body: Any = None) -> Any:
        response = self.http.post(f"/_sandbox/{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def publish(self, messages: list[dict[str, Any]]) -> None:
        self.control("publish", {"messages": messages})

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.http.get("/_sandbox/stats").json()
        return stats

    def created(self) -> list[dict[str, Any]]:
        posts: list[dict[str, Any]] = self.http.get("/_sandbox/posts").json()
        return posts


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # X allows about 100 posts per 15 minutes; the tests post more than that, faster.
    state = SandboxState(
        SandboxConfig(keepalive_seconds=0.2, account_username=ACCOUNT, tweets_rate_limit=5000)
    )
    with (
        serve_in_thread(create_sandbox_app(state)) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        yield Sandbox(server.url, state, http)


def x_settings(database_url: str, sandbox: Sandbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SecretStr(TEST_SECRET),
        "heartbeat_seconds": 0.5,
        "poll_seconds": 0.2,
        "audience_questions_per_minute": 10_000,
        "x_api_base_url": sandbox.url,
        "x_bearer_token": SecretStr("sandbox-bearer"),
        "x_consumer_key": SecretStr("sandbox-consumer-key"),
        "x_consumer_secret": SecretStr("sandbox-consumer-secret"),
        "x_access_token": SecretStr("sandbox-access-token"),
        "x_access_token_secret": SecretStr("sandbox-access-secret"),
        # X's waits (5 s to 320 s, 60 s after a 429), a hundred times shorter.
        "x_backoff_scale": 0.01,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def x_server(database_url: str, sandbox: Sandbox) -> Iterator[LiveServer]:
    with serve_in_thread(create_app(x_settings(database_url, sandbox))) as server:
        yield server


def message(
    i: int, text: str | None = None, *, mention: bool = False, hashtag: str = "AskTest"
) -> dict[str, Any]:
    """A filtered-stream message for post number ``i`` (ids and times increase with i)."""
    post_id = str(BASE_ID + i)
    author_id = str(4_000_000 + i % 97)
    body = text or f"Question number {i} about fees #{hashtag}"
    if mention:
        body = f"@{ACCOUNT} {body}"
    entities: dict[str, Any] = {}
    if mention:
        entities["mentions"] = [
            {"start": 0, "end": len(ACCOUNT) + 1, "username": ACCOUNT, "id": ACCOUNT_ID}
        ]
    return {
        "data": {
            "id": post_id,
            "text": body,
            "author_id": author_id,
            "created_at": (T0 + timedelta(milliseconds=10 * i)).isoformat().replace("+00:00", "Z"),
            "lang": "en",
            "conversation_id": post_id,
            "edit_history_tweet_ids": [post_id],
            "entities": entities,
        },
        "includes": {
            "users": [{"id": author_id, "username": f"asker{i % 97}", "name": f"Asker {i % 97}"}]
        },
        "matching_rules": [],
    }


async def wait_until(check: Any, within: float = 20.0, every: float = 0.1) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        await asyncio.sleep(every)
