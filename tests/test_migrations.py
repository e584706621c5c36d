"""Migrations build the schema the models describe, and reverse cleanly, on SQLite and on the
real PostgreSQL server."""

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

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
