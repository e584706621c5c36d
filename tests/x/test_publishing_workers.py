"""Several workers publishing from one PostgreSQL database: each delivery has exactly one
claimant, so every answer reaches X once however the workers interleave."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import make_engine, make_sessionmaker
from app.publishing.models import Attempt, Delivery, DeliveryStatus
from tests.x.conftest import Sandbox
from tests.x.test_publishing import answer, asked, setup_show, worker_for

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_maker(migrated_pg: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(migrated_pg)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_two_workers_publish_each_answer_once(
    pg_maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(pg_maker)
    texts = [f"Answer number {i}: yes, the branch opens at nine." for i in range(20)]
    for text in texts:
        await answer(pg_maker, await asked(pg_maker, sandbox), text)
    # A read timeout longer than any answer of the fake X under load: a send that timed out is
    # rightly sent again after checking (its outcome is unknown), which is not a second
    # claimant; this test is about claimants only.
    workers = [worker_for(pg_maker, sandbox, timeout=(2.0, 10.0)) for _ in range(3)]

    async def settled() -> bool:
        async with pg_maker() as session:
            open_ = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.target == "x", Delivery.status != DeliveryStatus.published)
            )
        return open_ == 0

    for _ in range(200):
        # The workers' passes run at once: each sees the same due deliveries.
        await asyncio.gather(*(worker.run_once() for worker in workers))
        if await settled():
            break
    assert await settled()
    posted = Counter(post["text"] for post in sandbox.created())
    assert {text: posted[text] for text in texts} == dict.fromkeys(texts, 1)
    async with pg_maker() as session:
        sends = await session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(Attempt.action == "send", Attempt.outcome == "started")
        )
    assert sends == len(texts), "one claimant per delivery: one send each"
