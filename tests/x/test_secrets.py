"""Canary secrets: with every logger at DEBUG (tweepy's included, which logs request headers),
no credential value appears in any log line or any API response."""

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.xsandbox.app import create_sandbox_app
from app.xsandbox.state import SandboxConfig, SandboxState
from tests.conftest import Actor, serve_in_thread
from tests.x.conftest import ACCOUNT, Sandbox, message, wait_until, x_settings

CANARIES = {
    "bearer_token": "canary-bearer-7f3c9a2e1b",
    "consumer_key": "canary-consumer-key-51d0",
    "consumer_secret": "canary-consumer-secret-88aa",
    "access_token": "canary-access-token-4e21",
    "access_token_secret": "canary-access-secret-c0ffee",
}


@dataclass
class Capture:
    stream: io.StringIO
    all_debug: Callable[[], None]


@pytest.fixture
def everything_at_debug() -> Iterator[Capture]:
    """A log handler on the root logger, and every logger there is at DEBUG."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    loggers = [
        root,
        *(
            logging.getLogger(n)
            for n in (
                "tweepy",
                "urllib3",
                "requests_oauthlib",
                "oauthlib",
                "httpx",
                "uvicorn",
                "app",
            )
        ),
    ]
    levels = {lg: lg.level for lg in loggers}
    root.addHandler(handler)

    def all_debug() -> None:
        for lg in loggers:
            lg.setLevel(logging.DEBUG)

    all_debug()
    yield Capture(captured, all_debug)
    root.removeHandler(handler)
    for lg, level in levels.items():
        lg.setLevel(level)


async def test_no_secret_in_logs_or_responses(
    database_url: str, admin: Actor, everything_at_debug: Capture
) -> None:
    state = SandboxState(SandboxConfig(keepalive_seconds=0.2, account_username=ACCOUNT, **CANARIES))
    with (
        serve_in_thread(create_sandbox_app(state)) as sandbox_server,
        httpx.Client(base_url=sandbox_server.url) as control,
    ):
        sandbox = Sandbox(sandbox_server.url, state, control)
        settings = x_settings(
            database_url,
            sandbox,
            log_level="DEBUG",
            **{f"x_{k}": SecretStr(v) for k, v in CANARIES.items()},
        )
        # A canary for the OAuth 2 user token too, though OAuth 1.0a is what posts here.
        with serve_in_thread(create_app(settings)) as server:
            # Tribune holds tweepy at INFO; an operator forcing DEBUG must still be safe.
            everything_at_debug.all_debug()
            bodies: list[str] = []
            async with httpx.AsyncClient(
                base_url=server.url, timeout=10, headers=admin.headers
            ) as http:
                await http.post(
                    "/api/v1/events",
                    json={
                        "slug": "ask-test",
                        "title": "T",
                        "hashtag": "AskTest",
                        "answering_handle": ACCOUNT,
                    },
                )
                added = await http.post(
                    "/api/v1/events/ask-test/sources",
                    json={"kind": "x-stream", "require_mention": True},
                )
                bodies.append(added.text)
                assert added.status_code == 201, added.text

                async def connected() -> bool:
                    sources = (await http.get("/api/v1/events/ask-test/sources")).json()
                    bodies.append(str(sources))
                    return bool(sources[0]["status"] == "connected")

                await wait_until(connected)
                sandbox.publish([message(1, mention=True)])

                async def arrived() -> list[dict[str, object]]:
                    page = await http.get("/api/v1/events/ask-test/questions")
                    items: list[dict[str, object]] = page.json()["items"]
                    return items

                (question,) = await wait_until(arrived)
                for step, body in (
                    ("approve", None),
                    ("on-air", None),
                    ("answers", {"text": "Yes, and thank you."}),
                ):
                    response = await http.post(
                        f"/api/v1/questions/{question['id']}/{step}", json=body
                    )
                    bodies.append(response.text)
                await wait_until(lambda: sandbox.created())
                me = await http.post("/api/v1/x/test-connection")
                assert me.status_code == 200, me.text
                assert me.json()["username"] == ACCOUNT
                bodies.extend([me.text, (await http.get("/openapi.json")).text])
            state.disconnect_streams()
    log = everything_at_debug.stream.getvalue()
    assert "Making API request" in log, "tweepy's DEBUG output was captured"
    assert "[redacted]" in log
    for name, secret in CANARIES.items():
        assert secret not in log, f"{name} leaked into the logs"
        for text in bodies:
            assert secret not in text, f"{name} leaked into an API response"
