"""Login with a server-side session cookie for pages; bearer tokens for the API."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Role, User
from app.accounts.service import authenticate
from app.config import Settings
from app.main import create_app
from tests.conftest import (
    CSRF_FIELD,
    Actor,
    LiveServer,
    browser_login,
    make_actor,
    page_token,
    serve_in_thread,
)


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await browser_login(http, username, password, "/moderate/ask-test")


async def test_login_sets_a_safe_cookie_and_logout_revokes_it(
    live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        anonymous = await http.get("/moderate/ask-test")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?next=/moderate/ask-test"
        response = await login(http, "mo", "password-123")
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/moderate/ask-test"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        page = await http.get("/moderate/ask-test")
        assert page.status_code == 200
        assert "moderation" in page.text
        me = (await http.get("/api/v1/me")).json()
        assert (me["username"], me["role"]) == ("mo", "moderator")
        stolen = dict(http.cookies)
        token = await page_token(http, "/moderate/ask-test")
        await http.post("/logout", data={"csrf_token": token})
    async with httpx.AsyncClient(base_url=live_server.url, cookies=stolen) as replay:
        assert (await replay.get("/api/v1/me")).status_code == 401
        assert (await replay.get("/moderate/ask-test")).status_code == 303


async def test_wrong_password_and_open_redirects(live_server: LiveServer, moderator: Actor) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        wrong = await login(http, "mo", "not-the-password")
        assert wrong.status_code == 401
        assert "Wrong username or password" in wrong.text
        unknown = await login(http, "nobody", "password-123")
        assert unknown.status_code == 401
        evil = await browser_login(http, "mo", "password-123", "//evil.example/x")
        assert evil.headers["location"] == "/admin"


async def test_pages_check_the_role(
    live_server: LiveServer,
    live_event: dict[str, Any],
    maker: async_sessionmaker[AsyncSession],
) -> None:
    await make_actor(maker, "speaker", Role.spokesperson)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await login(http, "speaker", "password-123")
        assert (await http.get("/moderate/ask-test")).status_code == 403
        assert (await http.get("/present/ask-test")).status_code == 200
        assert (await http.get("/live/ask-test")).status_code == 200


async def test_disabled_users_cannot_log_in_or_use_tokens(
    http: httpx.AsyncClient, moderator: Actor, maker: async_sessionmaker[AsyncSession]
) -> None:
    assert (await http.get("/api/v1/me", headers=moderator.headers)).status_code == 200
    async with maker() as session:
        user = await session.scalar(select(User).where(User.username == "mo"))
        assert user is not None
        user.is_active = False
        await session.commit()
        assert await authenticate(session, "mo", "password-123") is None
        assert user.password_hash.startswith("$argon2id$")
    assert (await http.get("/api/v1/me", headers=moderator.headers)).status_code == 401


def session_set_cookie(response: httpx.Response) -> str:
    """The Set-Cookie header that carries the login session."""
    found = [c for c in response.headers.get_list("set-cookie") if "tribune_session=" in c]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


async def test_over_https_the_session_cookie_is_host_prefixed_and_secure(
    settings: Settings, moderator: Actor
) -> None:
    """Behind a TLS proxy Tribune trusts (X-Forwarded-Proto from a configured proxy)."""
    behind_proxy = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    with serve_in_thread(create_app(behind_proxy, run_sources=False)) as server:
        tls = {"X-Forwarded-Proto": "https"}
        async with httpx.AsyncClient(base_url=server.url, headers=tls) as http:
            form = await http.get("/login")
            pre = [c for c in form.headers.get_list("set-cookie") if "tribune_csrf=" in c]
            assert len(pre) == 1
            assert pre[0].startswith("__Host-tribune_csrf="), pre
            token = CSRF_FIELD.search(form.text)
            assert token
            response = await http.post(
                "/login",
                data={"username": "mo", "password": "password-123", "csrf_token": token[1]},
                # httpx keeps Secure cookies for https URLs only: hand the pre-login one over.
                headers={"Cookie": f"__Host-tribune_csrf={token[1]}"},
            )
            assert response.status_code == 303, response.text
            cookie = session_set_cookie(response)
            name, value = cookie.split(";")[0].split("=", 1)
            assert name == "__Host-tribune_session"
            attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
            assert {"httponly", "secure", "path=/", "samesite=lax"} <= attributes
            assert not any(a.startswith("domain") for a in attributes)
            me = await http.get("/api/v1/me", headers={"Cookie": f"{name}={value}"})
            assert me.json()["username"] == "mo"
        # The same header from a peer that is not a configured proxy means nothing.
        plain_settings = settings.model_copy(update={"trusted_proxies": []})
        with serve_in_thread(create_app(plain_settings, run_sources=False)) as plain:
            async with httpx.AsyncClient(base_url=plain.url, headers=tls) as http:
                response = await browser_login(http, "mo", "password-123")
                cookie = session_set_cookie(response)
                assert cookie.startswith("tribune_session=")
                assert "secure" not in cookie.lower()


async def test_each_login_starts_a_new_session_and_ends_the_previous_one(
    live_server: LiveServer, moderator: Actor
) -> None:
    """A session id planted in the browser before login (fixation) is dead after it."""
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await browser_login(http, "mo", "password-123")
        planted = http.cookies["tribune_session"]
        await browser_login(http, "mo", "password-123")
        fresh = http.cookies["tribune_session"]
        assert fresh != planted
        assert (await http.get("/api/v1/me")).json()["username"] == "mo"
    async with httpx.AsyncClient(
        base_url=live_server.url, cookies={"tribune_session": planted}
    ) as attacker:
        assert (await attacker.get("/api/v1/me")).status_code == 401
