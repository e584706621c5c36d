"""Leases: exactly one worker per job, on SQLite and PostgreSQL alike.

A lease is a row; taking or renewing it is one conditional UPDATE (or the first INSERT), so
two workers racing for it cannot both win. Ingest is safe even across the moment a lease
changes hands: posts are stored once per (source, external id) whoever stores them.
"""

import asyncio
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events.models import LiveEvent, LiveEventState
from app.ingest.models import IngestSource, Post
from app.ops.models import Lease
from app.ops.schemas import Check, SourceState
from app.publishing.models import Delivery, DeliveryStatus

# Deliveries still on their way out: the outbox.
UNSETTLED = (DeliveryStatus.pending, DeliveryStatus.sending, DeliveryStatus.unknown)


def worker_name() -> str:
    """This worker's name in leases and on the operator page: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def take(session: AsyncSession, name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease for ``seconds``; whether ``holder`` holds it now."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    taken = await session.execute(
        update(Lease)
        .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
        .values(
            epoch=case((Lease.holder == holder, Lease.epoch), else_=Lease.epoch + 1),
            holder=holder,
            expires_at=expires,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        return True
    if await session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
        return False  # held by another worker, and not expired
    try:
        async with session.begin_nested():
            session.add(Lease(name=name, holder=holder, epoch=1, expires_at=expires))
    except IntegrityError:
        return False  # another worker inserted it first
    return True


async def release(session: AsyncSession, name: str, holder: str) -> None:
    """Give the lease up (a clean shutdown): another worker may take it at once."""
    await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


async def holder_of(session: AsyncSession, name: str) -> str | None:
    """The current holder, if the lease has not expired."""
    return await session.scalar(
        select(Lease.holder).where(Lease.name == name, Lease.expires_at >= utcnow())
    )


# --- Readiness and metrics -------------------------------------------------------------------

# A check that takes longer than this counts as failed: a load balancer must not wait on it.
CHECK_SECONDS = 2.0


async def database_check(session: AsyncSession) -> Check:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await session.execute(text("SELECT 1"))
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        return Check(ok=False, detail=type(exc).__name__)
    return Check(ok=True)


async def source_states(session: AsyncSession) -> list[SourceState]:
    rows = await session.execute(
        select(IngestSource, LiveEvent.slug)
        .join(LiveEvent, LiveEvent.id == IngestSource.live_event_id)
        .where(IngestSource.enabled.is_(True))
        .order_by(IngestSource.id)
    )
    return [
        SourceState(
            id=source.id,
            live_event=slug,
            kind=source.kind,
            status=source.status,
            worker=source.worker,
        )
        for source, slug in rows
    ]


@dataclass(frozen=True)
class Figures:
    """What /metrics reports from the database, read at scrape time."""

    updates: dict[str, int]  # per LiveEvent slug: its last seq (updates written so far)
    outbox: dict[str, int]  # deliveries per status, for the unsettled ones
    delivery_failures: int
    ingest_lag: dict[str, float]  # per live LiveEvent: seconds from post to stored, newest post


async def figures(session: AsyncSession) -> Figures:
    rows = await session.execute(select(LiveEvent.slug, LiveEvent.last_seq))
    updates = {str(slug): int(seq) for slug, seq in rows}
    outbox = {
        str(status): int(count)
        for status, count in await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.status.in_(UNSETTLED))
            .group_by(Delivery.status)
        )
    }
    failures = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.status == DeliveryStatus.failed)
    )
    lag: dict[str, float] = {}
    live = await session.execute(
        select(LiveEvent.id, LiveEvent.slug).where(LiveEvent.state == LiveEventState.live)
    )
    for live_event_id, slug in live:
        newest = (
            await session.execute(
                select(Post.posted_at, Post.ingested_at)
                .where(Post.live_event_id == live_event_id)
                .order_by(Post.id.desc())
                .limit(1)
            )
        ).first()
        if newest is not None:
            lag[slug] = max(0.0, (newest.ingested_at - newest.posted_at).total_seconds())
    return Figures(updates, outbox, int(failures or 0), lag)
