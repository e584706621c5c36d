"""Revocation takes effect everywhere: logout and disabling close sockets within 5 s, and a
disabled user is refused at once."""

import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.exceptions import ConnectionClosed

from app.accounts import service as accounts
from app.db import NullNotifier, unit_of_work
from tests.conftest import Actor, LiveServer, browser_login, page_token
from tests.wsclient import Channel


async def closed_within(channel: Channel, seconds: float) -> int:
    """Wait for the server to close the socket; its close code."""
    start = time.monotonic()

    async def read_until_closed() -> None:
        while time.monotonic() - start < seconds:
            await channel.recv(within=seconds)

    with pytest.raises(ConnectionClosed) as closed:
        await read_until_closed()
    assert time.monotonic() - start < seconds
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_logout_closes_the_users_sockets(
    live_server: LiveServer, live_event: dict[str, Any], moderator: Actor
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as browser:
        await browser_login(browser, "mo", "password-123")
        cookie = browser.cookies["tribune_session"]
        channel = Channel(f"{live_server.ws_url}/ws/events/ask-test/moderation?after=0")
        channel.headers["Cookie"] = f"tribune_session={cookie}"
        async with channel:
            assert (await channel.recv())["type"] == "hello"
            token = await page_token(browser, "/admin")
            await browser.post("/logout", data={"csrf_token": token})
            assert await closed_within(channel, 5.0) == 4003


async def test_a_disabled_user_is_refused_at_once_and_their_sockets_close(
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    channel = Channel(
        f"{live_server.ws_url}/ws/events/ask-test/moderation?after=0", moderator.token
    )
    async with channel:
        assert (await channel.recv())["type"] == "hello"
        async with unit_of_work(maker, NullNotifier()) as session:
            await accounts.disable_user(session, await accounts.get_user(session, "mo"))
        refused = await http.get("/api/v1/me", headers=moderator.headers)
        assert refused.status_code == 401
        assert await closed_within(channel, 5.0) == 4003
