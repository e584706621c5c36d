"""The ingest path on the real PostgreSQL server: batched inserts, dedup by the constraint."""

import asyncio

import pytest

from app import migrate
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.ingest.service import ingest_posts
from app.ingest.xpayload import parse_stream_message
from tests.x.conftest import message


@pytest.mark.postgres
async def test_batches_and_dedup_on_postgresql(pg_database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, pg_database)
    engine = make_engine(pg_database)
    maker = make_sessionmaker(engine)
    try:
        async with unit_of_work(maker, NullNotifier()) as session:
            show = await events.create(
                session, LiveEventCreate(slug="pg", title="PG", hashtag="AskTest")
            )
        posts = [parse_stream_message(message(i), "x") for i in range(300)]
        results = []
        for upto in (200, 300):
            async with unit_of_work(maker, NullNotifier()) as session:
                live = await events.get(session, show.id)
                results.append(await ingest_posts(session, live, posts[:upto]))
        assert [(r.stored, r.questions, r.duplicates) for r in results] == [
            (200, 200, 0),
            (100, 100, 200),
        ]
        async with maker() as session:
            live = await events.get(session, show.id)
            assert live.last_seq == 300, "one update per question, seqs without gaps"
    finally:
        await engine.dispose()
