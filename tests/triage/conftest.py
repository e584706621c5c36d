"""The triage stage's fixtures: a stage to run by hand (deterministic), posts to ingest."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import make_sessionmaker, unit_of_work
from app.events.models import LiveEvent
from app.ingest.schemas import NormalisedPost
from app.ingest.service import ingest_posts
from app.triage.rules import SameLinkWatch
from app.triage.stage import triage_batch
from tests.conftest import RecordingNotifier

RunStage = Callable[[], Awaitable[int]]
Ingest = Callable[..., Awaitable[None]]


@pytest.fixture
def run_stage(engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]) -> RunStage:
    """One pass of the triage stage over everything untriaged (as the lease holder would):
    how many questions it triaged."""
    read_maker = make_sessionmaker(engine, readonly=True)
    watch = SameLinkWatch()

    async def run() -> int:
        total = 0
        while done := await triage_batch(read_maker, maker, RecordingNotifier(), watch):
            total += done
        return total

    return run


@pytest.fixture
def ingest(maker: async_sessionmaker[AsyncSession], live_event: dict[str, Any]) -> Ingest:
    """Store network posts as ingest does (one batch): ``(handle, text)`` pairs."""
    counter = iter(range(1_000_000))

    async def store(*posts: tuple[str, str], raw: dict[str, Any] | None = None) -> None:
        batch = []
        for handle, text in posts:
            n = next(counter)
            batch.append(
                NormalisedPost(
                    source="replay",
                    external_id=f"p{n}-{handle}",
                    author_id=f"id-{handle}",
                    author_handle=handle,
                    author_name=handle.title(),
                    author_avatar_url="",
                    text=text,
                    lang="",
                    posted_at=datetime.now(UTC),
                    is_retweet=False,
                    mentions=(),
                    raw=raw or {},
                )
            )
        async with unit_of_work(maker, RecordingNotifier()) as session:
            show = await session.get(LiveEvent, live_event["id"])
            assert show is not None
            await ingest_posts(session, show, batch)

    return store
