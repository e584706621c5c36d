"""Login with a server-side session cookie for pages; bearer tokens for the API."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Role, User
from app.accounts.service import authenticate
from tests.conftest import Actor, LiveServer, browser_login, make_actor, page_token


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
