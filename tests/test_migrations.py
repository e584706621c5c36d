"""Migrations build the schema the models describe, and reverse cleanly, on SQLite and on the
real PostgreSQL server."""

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from app import migrate
from app.db import make_engine
from app.models import Base


def drift_and_tables(url: str) -> tuple[list[object], set[str]]:
    async def run() -> tuple[list[object], set[str]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:

                def inspect_sync(sync_conn: Connection) -> tuple[list[object], set[str]]:
                    diff = compare_metadata(MigrationContext.configure(sync_conn), Base.metadata)
                    return list(diff), set(inspect(sync_conn).get_table_names())

                return await conn.run_sync(inspect_sync)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def round_trip(url: str) -> None:
    migrate.upgrade(url)
    diff, tables = drift_and_tables(url)
    assert diff == [], "models and migrations differ"
    assert {"live_events", "questions", "updates", "posts", "users"} <= tables
    migrate.downgrade(url, "base")
    _diff, tables = drift_and_tables(url)
    assert tables <= {"alembic_version"}
    migrate.upgrade(url)
    command.check(migrate.alembic_config(url))


def test_sqlite_round_trip(tmp_path: Path) -> None:
    round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgresql_round_trip(pg_database: str) -> None:
    round_trip(pg_database)


def upgrade_keeps_everyones_access(url: str) -> None:
    """Before teams, a moderator worked every LiveEvent: after the upgrade, still on those."""
    migrate.upgrade(url, "fad66e01b12e")

    async def run(sql: str) -> list[tuple[object, ...]]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    asyncio.run(
        run(
            "INSERT INTO users (id, username, display_name, password_hash, role, is_active,"
            " created_at) VALUES (1, 'ada', 'Ada', 'x', 'admin', true, CURRENT_TIMESTAMP),"
            " (2, 'mo', 'Mo', 'x', 'moderator', true, CURRENT_TIMESTAMP)"
        )
    )
    asyncio.run(
        run(
            "INSERT INTO live_events (id, slug, title, description, hashtags, answering_handle,"
            " spokesperson, stream_url, embed_origins, state, x_fallback, last_seq, created_at)"
            " VALUES (1, 'old-show', 'Old', '', '[]', '', '', '', '[]', 'live', 'standalone', 0,"
            " CURRENT_TIMESTAMP)"
        )
    )
    migrate.upgrade(url)
    team = asyncio.run(run("SELECT live_event_id, user_id, role FROM live_event_team"))
    assert team == [(1, 2, "moderator")]


def test_sqlite_upgrade_keeps_everyones_access(tmp_path: Path) -> None:
    upgrade_keeps_everyones_access(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgresql_upgrade_keeps_everyones_access(pg_database: str) -> None:
    upgrade_keeps_everyones_access(pg_database)
