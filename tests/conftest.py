"""Shared fixtures: a migrated database per test, a real uvicorn server, users.

The schema is built by running the migrations once per session into a template database, which
each test copies: real migrations, without paying for them in every test. The backend is
SQLite (a template file, copied) unless ``TRIBUNE_TEST_DATABASE=postgresql`` runs the suite on
the PostgreSQL server (a template database, cloned with ``CREATE DATABASE ... TEMPLATE``);
``make test`` runs it both ways.
"""

import asyncio
import concurrent.futures
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role
from app.config import Settings
from app.db import Committed, make_engine, make_sessionmaker, unit_of_work
from app.events import service as events
from app.main import create_app
from app.serving import uvicorn_options

PG_ADMIN_DSN = os.environ.get("TRIBUNE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TEST_SECRET = "test-secret-key-not-for-production-0123456789"
# The database every test's app runs on: "sqlite" (the default) or "postgresql".
BACKENDS = ("sqlite", "postgresql")
TEST_DATABASE = os.environ.get("TRIBUNE_TEST_DATABASE", "sqlite")
ON_POSTGRESQL = TEST_DATABASE == "postgresql"


def pytest_configure(config: pytest.Config) -> None:
    if TEST_DATABASE not in BACKENDS:
        raise pytest.UsageError(
            f"TRIBUNE_TEST_DATABASE={TEST_DATABASE!r}: use one of {', '.join(BACKENDS)}"
        )
    if ON_POSTGRESQL:
        # Fail the run up front, not with the same connection error in every test.
        try:
            run_async(_pg_admin("SELECT 1"))
        except (OSError, asyncpg.PostgresError) as error:
            raise pytest.UsageError(
                f"TRIBUNE_TEST_DATABASE=postgresql, but PostgreSQL at {PG_ADMIN_DSN} "
                f"is unreachable: {error!r} (set TRIBUNE_TEST_PG_DSN, or start the server)"
            ) from error


def pytest_report_header(config: pytest.Config) -> str:
    where = f" ({PG_ADMIN_DSN.rsplit('/', 1)[0]})" if ON_POSTGRESQL else ""
    return f"database: {TEST_DATABASE}{where} (TRIBUNE_TEST_DATABASE)"


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` to completion from sync code, in a thread of its own.

    asyncio.run() here would replace the current event loop of the thread, which pytest-asyncio
    may have set up for the test about to run.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _pg_admin(*statements: str) -> None:
    """Run statements on the server's maintenance database (CREATE/DROP DATABASE)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the test server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


@contextmanager
def _pg_throwaway(template: str | None = None) -> Iterator[str]:
    """A new database on the PostgreSQL server (a clone of ``template``), dropped after."""
    name = f"tribune_test_{uuid.uuid4().hex[:10]}"
    clone = f' TEMPLATE "{template}"' if template else ""
    run_async(_pg_admin(f'CREATE DATABASE "{name}"{clone}'))
    try:
        yield name
    finally:
        # FORCE: a server thread or a killed subprocess may still hold a connection.
        run_async(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class RecordingNotifier:
    """Collects what a transaction asked to notify: tests assert on it."""

    def __init__(self) -> None:
        self.notified: list[int] = []

    def notify(self, committed: Committed) -> None:
        self.notified.extend(committed)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated template: a SQLite file's path, or a PostgreSQL database's name."""
    if not ON_POSTGRESQL:
        path = tmp_path_factory.mktemp("template") / "template.db"
        migrate.upgrade(f"sqlite+aiosqlite:///{path}")
        yield str(path)
        return
    with _pg_throwaway() as name:
        # Alembic's engine is disposed when it returns: a template must have no connection
        # open while it is cloned.
        migrate.upgrade(_pg_url(name))
        yield name


@pytest.fixture
def database_url(template_database: str, tmp_path: Path) -> Iterator[str]:
    """This test's own migrated database, on the suite's backend."""
    if not ON_POSTGRESQL:
        path = tmp_path / "tribune.db"
        shutil.copy(template_database, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    with _pg_throwaway(template=template_database) as name:
        yield _pg_url(name)


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet, on the suite's backend: for what runs the migrations
    itself (the CLI's `db upgrade`, the demo)."""
    if not ON_POSTGRESQL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    with _pg_throwaway() as name:
        yield _pg_url(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SecretStr(TEST_SECRET),
        # The suite asks many questions quickly; tests/test_security.py checks the real limit.
        audience_questions_per_minute=10_000,
        heartbeat_seconds=0.5,
        poll_seconds=0.2,
        _env_file=None,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    ws_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def serve_in_thread(app: FastAPI, port: int | None = None) -> Iterator[LiveServer]:
    """``app`` served by a real uvicorn on 127.0.0.1, in a thread with its own event loop."""
    port = port or _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        **uvicorn_options("warning"),  # as `tribune serve` runs it
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    live = LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", server, thread)
    yield live
    live.stop()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with serve_in_thread(create_app(settings, run_sources=False)) as server:
        yield server


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client holding the public CSRF token, as the audience page does."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        token = (await client.get("/api/v1/csrf")).json()["token"]
        client.headers["X-CSRF-Token"] = token
        yield client


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


async def browser_login(
    http: httpx.AsyncClient, username: str, password: str, next_path: str = "/admin"
) -> httpx.Response:
    """Log in through the login form, as a browser does (pre-session CSRF cookie included)."""
    form = await http.get("/login")
    match = CSRF_FIELD.search(form.text)
    assert match, "the login form carries a CSRF token"
    return await http.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "next": next_path,
            "csrf_token": match.group(1),
        },
    )


async def page_token(http: httpx.AsyncClient, path: str) -> str:
    """The CSRF token a page embeds for its own calls."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', (await http.get(path)).text)
    assert match, f"{path} embeds a CSRF token"
    return match.group(1)


@dataclass
class Actor:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def staff_everyone(maker: async_sessionmaker[AsyncSession]) -> None:
    """The tests' default team: every moderator and spokesperson on every LiveEvent, with
    their account role. Tests of per-LiveEvent roles (tests/accounts/test_teams.py) start
    from here and take people off."""
    async with unit_of_work(maker, RecordingNotifier()) as session:
        for live_event in await events.list_all(session):
            for user in await accounts.list_users(session):
                if user.role is not Role.admin:
                    await events.assign(session, live_event, user)


async def make_actor(maker: async_sessionmaker[AsyncSession], username: str, role: Role) -> Actor:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        user = await accounts.create_user(session, username, "password-123", role)
        token = await accounts.create_api_token(session, user, "test")
    await staff_everyone(maker)
    return Actor(username, token)


@pytest.fixture
async def admin(maker: async_sessionmaker[AsyncSession]) -> Actor:
    return await make_actor(maker, "ada", Role.admin)


@pytest.fixture
async def moderator(maker: async_sessionmaker[AsyncSession]) -> Actor:
    return await make_actor(maker, "mo", Role.moderator)


@pytest.fixture
async def moderator2(maker: async_sessionmaker[AsyncSession]) -> Actor:
    return await make_actor(maker, "max", Role.moderator)


@pytest.fixture
async def spokesperson(maker: async_sessionmaker[AsyncSession]) -> Actor:
    return await make_actor(maker, "claire", Role.spokesperson)


@pytest.fixture
async def live_event(
    http: httpx.AsyncClient, admin: Actor, maker: async_sessionmaker[AsyncSession]
) -> dict[str, object]:
    response = await http.post(
        "/api/v1/events",
        json={
            "slug": "ask-test",
            "title": "Ask Test Bank",
            "hashtag": "AskTest",
            "answering_handle": "TestBank",
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    await staff_everyone(maker)
    return body


async def ask(http: httpx.AsyncClient, text: str, slug: str = "ask-test") -> dict[str, object]:
    response = await http.post(f"/api/v1/events/{slug}/questions", json={"text": text})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture
def pg_database() -> Iterator[str]:
    """An empty throwaway database on the machine's PostgreSQL, whatever the suite's backend:
    for the `postgres` tests, which run on both runs."""
    with _pg_throwaway() as name:
        yield _pg_url(name)


@pytest.fixture
def migrated_pg(pg_database: str) -> str:
    """A throwaway PostgreSQL database with the schema, for tests of several workers on it."""
    migrate.upgrade(pg_database)
    return pg_database
