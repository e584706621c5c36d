"""Leases: exactly one worker per job, on SQLite and PostgreSQL alike.

A lease is a row; taking or renewing it is one conditional UPDATE (or the first INSERT), so
two workers racing for it cannot both win. Ingest is safe even across the moment a lease
changes hands: posts are stored once per (source, external id) whoever stores them.
"""

import os
import socket
from datetime import timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.ops.models import Lease


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
