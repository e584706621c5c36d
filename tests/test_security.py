"""The security wall, walked route by route on a real server: CSRF, headers, body caps, the
audience rate limit, and socket origins."""

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.config import Settings
from app.main import create_app
from tests.conftest import Actor, LiveServer, ask, browser_login, page_token, serve_in_thread
from tests.wsclient import Channel

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def concrete(path: str) -> str:
    """A route's path with its parameters filled in."""
    return re.sub(r"\{\w+\}", "1", path.replace("{slug}", "ask-test"))


def _walk(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        # FastAPI keeps included routers as a node of their own; their routes are inside.
        included = getattr(route, "original_router", None)
        if included is not None:
            found.extend(_walk(list(included.routes)))
    return found


def routes(live_server: LiveServer) -> list[APIRoute]:
    """Every HTTP route of the app, however it was included."""
    app: Any = live_server.server.config.app
    return _walk(list(app.routes))


async def test_every_state_changing_route_needs_a_token_and_refuses_cross_site(
    live_server: LiveServer, live_event: dict[str, Any], admin: Actor
) -> None:
    unsafe = [(m, r.path) for r in routes(live_server) for m in (r.methods or set()) & UNSAFE]
    assert len(unsafe) >= 15, "the walk found the routes"
    async with httpx.AsyncClient(base_url=live_server.url) as browser:
        await browser_login(browser, "ada", "password-123")
        token = await page_token(browser, "/admin")
        for method, path in unsafe:
            url = concrete(path)
            without = await browser.request(method, url, json={})
            assert without.status_code == 403, (method, path, without.text)
            assert "CSRF" in without.json()["error"]["message"]
            cross = await browser.request(
                method,
                url,
                json={},
                headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
            )
            assert cross.status_code == 403, (method, path, cross.text)
        # The same token, same-site, does get through (to validation or the action).
        ok = await browser.post(
            "/api/v1/events/ask-test/questions",
            json={"text": "Hi"},
            headers={"X-CSRF-Token": token},
        )
        assert ok.status_code == 201, ok.text


async def test_framing_and_csp_on_every_page_and_api_route(
    live_server: LiveServer, http: httpx.AsyncClient, live_event: dict[str, Any], admin: Actor
) -> None:
    gets = [r.path for r in routes(live_server) if "GET" in (r.methods or set())]
    for path in gets:
        response = await http.get(concrete(path), headers=admin.headers)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, path
        assert "object-src 'none'" in policy, path
        if path == "/live/{slug}":
            assert "frame-ancestors 'self' https:" in policy
            assert "x-frame-options" not in response.headers
        else:
            assert "frame-ancestors 'none'" in policy, path
            assert response.headers.get("x-frame-options") == "DENY", path
    await http.patch(
        "/api/v1/events/ask-test",
        json={"embed_origins": ["https://www.bank.example"]},
        headers=admin.headers,
    )
    live = await http.get("/live/ask-test")
    assert (
        "frame-ancestors 'self' https://www.bank.example;"
        in live.headers["content-security-policy"] + ";"
    )
    bad = await http.patch(
        "/api/v1/events/ask-test", json={"embed_origins": ["javascript:x"]}, headers=admin.headers
    )
    assert bad.status_code == 422


async def test_bodies_are_capped(http: httpx.AsyncClient, live_event: dict[str, Any]) -> None:
    big = await http.post(
        "/api/v1/events/ask-test/questions",
        content=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert big.status_code == 413
    json_body = b'{"text": "' + b"a" * (70 * 1024) + b'"}'
    too_much_json = await http.post(
        "/api/v1/events/ask-test/questions",
        content=json_body,
        headers={"Content-Type": "application/json"},
    )
    assert too_much_json.status_code == 413
    assert "64 KiB" in too_much_json.json()["error"]["message"]


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"audience_questions_per_minute": 5})


async def test_the_sixth_question_in_a_minute_is_refused_even_with_a_spoofed_forwarded_for(
    strict_settings: Settings, admin: Actor
) -> None:
    with serve_in_thread(create_app(strict_settings, run_sources=False)) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.post(
                "/api/v1/events",
                headers=admin.headers,
                json={"slug": "ask-test", "title": "T", "hashtag": "T"},
            )
            http.headers["X-CSRF-Token"] = (await http.get("/api/v1/csrf")).json()["token"]
            for i in range(5):
                await ask(http, f"Question {i}")
            sixth = await http.post(
                "/api/v1/events/ask-test/questions",
                json={"text": "6th"},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
            assert sixth.status_code == 429
            assert int(sixth.headers["retry-after"]) > 0
            assert "try again" in sixth.json()["error"]["message"]


async def test_sockets_refuse_other_origins(
    live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    url = f"{live_server.ws_url}/ws/events/ask-test/moderation?after=0"
    for origin in ("https://evil.example", "null", f"{live_server.url}.evil.example"):
        channel = Channel(url, moderator.token)
        channel.headers["Origin"] = origin
        with pytest.raises(InvalidStatus) as refused:
            async with channel:
                pass
        assert refused.value.response.status_code == 403, origin
    own = Channel(url, moderator.token)
    own.headers["Origin"] = live_server.url
    async with own:
        assert (await own.recv())["type"] == "hello"


async def test_behind_a_tls_proxy_the_own_origin_is_https(
    settings: Settings, live_event: dict[str, Any], moderator: Actor
) -> None:
    """A page served through a TLS-terminating proxy has an https:// origin; the socket
    reaches Tribune over plain HTTP with X-Forwarded-Proto, believed from configured proxies
    only."""
    proxied = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    for trusted, app_settings in ((True, proxied), (False, settings)):
        with serve_in_thread(create_app(app_settings, run_sources=False)) as server:
            host = server.url.removeprefix("http://")
            channel = Channel(f"{server.ws_url}/ws/events/ask-test/moderation", moderator.token)
            channel.headers.update({"Origin": f"https://{host}", "X-Forwarded-Proto": "https"})
            if trusted:
                async with channel:
                    assert (await channel.recv())["type"] == "hello"
            else:
                with pytest.raises(InvalidStatus):
                    async with channel:
                        pass


async def test_logins_are_throttled_per_account(live_server: LiveServer, moderator: Actor) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as browser:
        for _ in range(5):
            wrong = await browser_login(browser, "mo", "not-the-password")
            assert wrong.status_code == 401
        # Even the right password waits now: guessing cannot go on.
        blocked = await browser_login(browser, "mo", "password-123")
        assert blocked.status_code == 429
        assert "Too many failed attempts" in blocked.text
        # Another account from the same client is not locked out by it.
        other = await browser_login(browser, "nobody", "whatever-1")
        assert other.status_code == 401


def test_direction_and_width_tricks_are_stripped() -> None:
    from app.ingest.xpayload import clean_text
    from app.questions.schemas import AudienceQuestionIn

    spoof = "Pay at \u202egnp.exe\u202c now\u200b!"
    assert clean_text(spoof) == "Pay at gnp.exe now!"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_text(family) == family, "emoji sequences keep their joiners"
    asked = AudienceQuestionIn(text="\u2066Hello\u2069", author_name="\ufeffInès\u200f")
    assert (asked.text, asked.author_name) == ("Hello", "Inès")


async def test_sockets_take_no_commands_and_refuse_floods(
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    spokesperson: Actor,
) -> None:
    question = await ask(http, "Approve me through the socket?")
    url = f"{live_server.ws_url}/ws/events/ask-test/presenter?after=0"
    async with Channel(url, spokesperson.token) as channel:
        assert (await channel.recv())["type"] == "hello"
        assert channel.conn is not None
        await channel.conn.send(f'{{"action": "approve", "id": {question["id"]}}}')
        reply = await channel.recv()
        while reply["type"] == "heartbeat":
            reply = await channel.recv()
        assert reply["type"] == "error"
        assert "takes no commands" in reply["message"]
        for _ in range(30):
            await channel.conn.send("ping")

        async def until_closed() -> None:
            while True:
                await channel.recv()

        with pytest.raises(ConnectionClosed) as closed:
            await until_closed()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
    current = (
        await http.get(f"/api/v1/questions/{question['id']}", headers=moderator.headers)
    ).json()
    assert (current["status"], current["version"]) == ("pending", 1), "nothing changed"
