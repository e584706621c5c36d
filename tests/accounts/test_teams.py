"""Roles are per LiveEvent: a moderator of one LiveEvent can neither read nor act on another,
through the API, the pages or the sockets, and the database is left as it was."""

from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.exceptions import InvalidStatus

from app.config import Settings
from app.db import Base
from app.main import create_app
from tests.accounts.test_revocation import closed_within
from tests.conftest import Actor, LiveServer, ask, browser_login, serve_in_thread
from tests.test_security import routes
from tests.wsclient import Channel
from tests.x.conftest import wait_until

# Routes under a LiveEvent or a question that anyone may call: the audience's.
PUBLIC = {
    ("GET", "/api/v1/events/{slug}"),
    ("GET", "/api/v1/events/{slug}/public"),
    ("POST", "/api/v1/events/{slug}/questions"),
}
# A plausible body per route, so that only the role check can refuse the call.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/v1/questions/{question_id}"): {"note": "mine now"},
    ("POST", "/api/v1/questions/{question_id}/answers"): {"text": "An answer"},
    ("POST", "/api/v1/questions/{question_id}/answer-preview"): {"text": "An answer"},
    ("PATCH", "/api/v1/events/{slug}"): {"title": "Taken over"},
    ("PUT", "/api/v1/events/{slug}/team/{username}"): {"role": "moderator"},
    ("POST", "/api/v1/events/{slug}/sources"): {"kind": "x-stream"},
}
# Tokens and sessions record their last use; everything else must stay as it was.
VOLATILE = {"api_tokens", "web_sessions"}


async def database(maker: async_sessionmaker[AsyncSession]) -> dict[str, list[Any]]:
    """Every row of every table (but the volatile ones), in primary-key order."""
    async with maker() as session:
        return {
            table.name: [
                tuple(row)
                for row in await session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
            if table.name not in VOLATILE
        }


async def other_show(http: httpx.AsyncClient, admin: Actor, slug: str = "other-show") -> None:
    """A second LiveEvent, whose team is empty."""
    created = await http.post(
        "/api/v1/events",
        json={"slug": slug, "title": "Another bank's chat", "hashtag": "AskOther"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text


def event_routes(live_server: LiveServer) -> list[tuple[str, str]]:
    """Every (method, path) of the API that reaches into one LiveEvent or question."""
    found: list[tuple[str, str]] = []
    for route in routes(live_server):
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
            continue
        if "{slug}" not in route.path and "{question_id}" not in route.path:
            continue
        found.extend((method, route.path) for method in route.methods or ())
    return found


async def test_a_moderator_of_one_live_event_can_neither_read_nor_act_on_another(
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
    moderator: Actor,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    await other_show(http, admin)
    theirs = await ask(http, "A question on the other show", slug="other-show")
    ours = await ask(http, "A question on our show")
    before = await database(maker)

    walked = event_routes(live_server)
    assert len(walked) >= 20, walked
    for method, path in walked:
        if (method, path) in PUBLIC:
            continue
        url = (
            path.replace("{slug}", "other-show")
            .replace("{question_id}", str(theirs["id"]))
            .replace("{username}", "mo")
            .replace("{source_id}", "1")
        )
        response = await http.request(
            method, url, json=BODIES.get((method, path)), headers=moderator.headers
        )
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["message"], (method, path)

    # The show's list of LiveEvents holds only the moderator's own.
    listed = await http.get("/api/v1/events", headers=moderator.headers)
    assert [e["slug"] for e in listed.json()] == ["ask-test"]

    # The sockets of the other show refuse the handshake (HTTP 403 on a real server).
    for channel in ("moderation", "presenter"):
        url = f"{live_server.ws_url}/ws/events/other-show/{channel}?after=0"
        with pytest.raises(InvalidStatus) as refused:
            async with Channel(url, moderator.token):
                pass
        assert refused.value.response.status_code == 403, channel

    # And the pages.
    async with httpx.AsyncClient(base_url=live_server.url) as browser:
        await browser_login(browser, "mo", "password-123")
        for page in ("/moderate/other-show", "/present/other-show", "/admin/events/other-show"):
            refused_page = await browser.get(page)
            assert refused_page.status_code == 403, page
            assert "A question on the other show" not in refused_page.text
        admin_list = await browser.get("/admin")
        assert "other-show" not in admin_list.text
        assert (await browser.get("/moderate/ask-test")).status_code == 200

    assert await database(maker) == before, "a refused call changed the database"

    # On their own show the same moderator works as usual.
    approved = await http.post(f"/api/v1/questions/{ours['id']}/approve", headers=moderator.headers)
    assert approved.status_code == 200, approved.text


async def test_the_role_is_the_one_held_on_each_live_event(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
    spokesperson: Actor,
) -> None:
    """Claire presents the bank's show and moderates the other one."""
    await other_show(http, admin)
    put = await http.put(
        "/api/v1/events/other-show/team/claire", json={"role": "moderator"}, headers=admin.headers
    )
    assert put.status_code == 200, put.text
    assert put.json()["role"] == "moderator"

    here = await ask(http, "For the spokesperson's own show")
    there = await ask(http, "For the other show", slug="other-show")
    refused = await http.post(
        f"/api/v1/questions/{here['id']}/approve", headers=spokesperson.headers
    )
    assert refused.status_code == 403
    assert "you are spokesperson" in refused.json()["error"]["message"]
    allowed = await http.post(
        f"/api/v1/questions/{there['id']}/approve", headers=spokesperson.headers
    )
    assert allowed.status_code == 200, allowed.text

    team = await http.get("/api/v1/events/other-show/team", headers=admin.headers)
    assert [(m["username"], m["role"]) for m in team.json()] == [("claire", "moderator")]


async def test_only_admins_manage_teams_and_team_roles_are_moderator_or_spokesperson(
    http: httpx.AsyncClient, live_event: dict[str, Any], admin: Actor, moderator: Actor
) -> None:
    url = "/api/v1/events/ask-test/team/mo"
    assert (await http.put(url, json={}, headers=moderator.headers)).status_code == 403
    assert (
        await http.get("/api/v1/events/ask-test/team", headers=moderator.headers)
    ).status_code == 403
    as_admin = await http.put(url, json={"role": "admin"}, headers=admin.headers)
    assert as_admin.status_code == 400
    assert "moderator or spokesperson" in as_admin.json()["error"]["message"]
    admin_on_team = await http.put(
        "/api/v1/events/ask-test/team/ada", json={}, headers=admin.headers
    )
    assert admin_on_team.status_code == 400
    assert "runs every LiveEvent" in admin_on_team.json()["error"]["message"]
    unknown = await http.put("/api/v1/events/ask-test/team/nobody", json={}, headers=admin.headers)
    assert unknown.status_code == 404


async def test_taking_someone_off_the_team_closes_their_sockets(
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
    moderator: Actor,
) -> None:
    channel = Channel(
        f"{live_server.ws_url}/ws/events/ask-test/moderation?after=0", moderator.token
    )
    async with channel:
        assert (await channel.recv())["type"] == "hello"
        removed = await http.delete("/api/v1/events/ask-test/team/mo", headers=admin.headers)
        assert removed.status_code == 204, removed.text
        assert await closed_within(channel, 5.0) == 4003
    refused = await http.get("/api/v1/events/ask-test/questions", headers=moderator.headers)
    assert refused.status_code == 403
    assert "not on the team" in refused.json()["error"]["message"]


async def test_one_account_may_hold_only_so_many_sockets(
    settings: Settings, maker: async_sessionmaker[AsyncSession], admin: Actor, moderator: Actor
) -> None:
    capped = settings.model_copy(update={"ws_connections_per_user": 3})
    with serve_in_thread(create_app(capped, run_sources=False)) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            created = await http.post(
                "/api/v1/events",
                json={"slug": "ask-test", "title": "Ask", "hashtag": "Ask"},
                headers=admin.headers,
            )
            assert created.status_code == 201, created.text
            put = await http.put("/api/v1/events/ask-test/team/mo", json={}, headers=admin.headers)
            assert put.status_code == 200, put.text
        url = f"{server.ws_url}/ws/events/ask-test/moderation?after=0"
        channels = [Channel(url, moderator.token) for _ in range(3)]
        for channel in channels:
            await channel.__aenter__()
            assert (await channel.recv())["type"] == "hello"
        with pytest.raises(InvalidStatus) as refused:
            async with Channel(url, moderator.token):
                pass
        assert refused.value.response.status_code == 403
        # Another account is not affected, and a closed socket frees its seat.
        async with Channel(url, admin.token) as other:
            assert (await other.recv())["type"] == "hello"
        await channels[0].__aexit__(None, None, None)

        async def reopened() -> bool:
            try:
                async with Channel(url, moderator.token) as again:
                    return bool((await again.recv())["type"] == "hello")
            except InvalidStatus:
                return False

        assert await wait_until(reopened, within=5)
        for channel in channels[1:]:
            await channel.__aexit__(None, None, None)
