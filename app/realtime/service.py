"""Emitting updates: the only way a change reaches a screen."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from pydantic_core import to_json
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.bulk import BulkInsert
from app.db import LoggedUpdate, hand_over_after_commit, utcnow
from app.events.models import LiveEvent
from app.realtime.models import Update
from app.realtime.schemas import Channel, ChannelMessages

# A batch of updates is one statement, with no ORM bookkeeping.
_INSERT_UPDATES = BulkInsert(
    cast(Table, Update.__table__),
    ["seq", "moderation", "presenter", "public"],
    shared=["live_event_id", "kind", "created_at"],
)


def _encode_body(kind: str, body: dict[str, Any] | None) -> str | None:
    """A frame without its seq: what can be written before the seq is known (_with_seq)."""
    if body is None:
        return None
    if "seq" in body:
        raise ValueError("a frame's seq is the update log's")
    # type first and seq before it (_with_seq), so a reader of a raw frame sees them at once.
    # A channel's body may name its own type (a question leaving the public's view is
    # "question.removed" there).
    # pydantic-core's encoder: the same compact UTF-8 JSON as json.dumps(separators=(",", ":"),
    # ensure_ascii=False) for JSON-ready bodies, three times faster, and it serialises a
    # pydantic model in a body directly (as its model_dump_json would). Both count when an
    # ingest batch writes thousands of frames.
    return to_json({"type": kind, **body}, fallback=str).decode()


def _with_seq(seq: int, frame: str) -> str:
    """``{"seq":<seq>,`` before the rest of the frame: the JSON of {"seq": seq, **frame's}."""
    return f'{{"seq":{seq},{frame[1:]}'


def _encode(seq: int, kind: str, body: dict[str, Any] | None) -> str | None:
    frame = _encode_body(kind, body)
    return None if frame is None else _with_seq(seq, frame)


async def emit(
    session: AsyncSession, live_event_id: int, kind: str, messages: ChannelMessages
) -> int:
    """Write one Update in the caller's transaction and return its seq.

    The seq comes from incrementing ``live_events.last_seq``: the row lock that UPDATE takes is
    held until commit, so a later seq always commits after an earlier one and a client that
    resumes "after N" can never skip an update that commits late. The hub is handed it, frames and
    all, only after commit (db.notify_after_commit): a rolled-back change is never sent, and no
    worker reads a committed one back from the log unless it missed one before it.
    """
    seq = (
        await session.execute(
            update(LiveEvent)
            .where(LiveEvent.id == live_event_id)
            .values(last_seq=LiveEvent.last_seq + 1)
            .returning(LiveEvent.last_seq)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    moderation = _encode(seq, kind, messages.get(Channel.moderation))
    if moderation is None:
        raise ValueError("the moderation channel sees every update")
    logged = LoggedUpdate(
        int(seq),
        moderation,
        _encode(seq, kind, messages.get(Channel.presenter)),
        _encode(seq, kind, messages.get(Channel.public)),
    )
    session.add(Update(live_event_id=live_event_id, kind=kind, **logged._asdict()))
    hand_over_after_commit(session, live_event_id, [logged])
    return logged.seq


async def emit_many(
    session: AsyncSession,
    live_event_id: int,
    kind: str,
    batch: Sequence[ChannelMessages],
    *,
    after: Callable[[], Awaitable[None]] | None = None,
) -> list[int]:
    """``emit`` for many updates at once (an ingest batch): one seq range, one insert.

    ``after``, if given, is awaited once the frames are encoded and before the seqs are taken:
    an earlier transaction's turn at the LiveEvent's row lock (ingest.service.InFlight).
    """
    if not batch:
        return []
    # Encoded before the seqs are taken: the LiveEvent's row lock, which moderators' changes
    # wait for, is held from there until commit.
    bodies = {
        channel: [_encode_body(kind, messages.get(channel)) for messages in batch]
        for channel in Channel
    }
    if None in bodies[Channel.moderation]:
        raise ValueError("the moderation channel sees every update")
    # Thousands of frames are milliseconds of the event loop's time: requests waiting behind
    # them go first (an ingest batch's work comes in several such pieces).
    await asyncio.sleep(0)
    if after is not None:
        await after()
    end = (
        await session.execute(
            update(LiveEvent)
            .where(LiveEvent.id == live_event_id)
            .values(last_seq=LiveEvent.last_seq + len(batch))
            .returning(LiveEvent.last_seq)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    seqs = range(int(end) - len(batch) + 1, int(end) + 1)
    frames = {
        channel: [
            None if body is None else _with_seq(seq, body)
            for seq, body in zip(seqs, column, strict=True)
        ]
        for channel, column in bodies.items()
    }
    columns: dict[str, list[Any]] = {
        "seq": list(seqs),
        **{channel.value: frames[channel] for channel in Channel},
    }
    shared = {"live_event_id": live_event_id, "kind": kind, "created_at": utcnow()}
    await _INSERT_UPDATES.run(session, columns, shared)
    hand_over_after_commit(
        session,
        live_event_id,
        (
            LoggedUpdate(seq, cast(str, moderation), presenter, public)
            for seq, moderation, presenter, public in zip(
                seqs,
                frames[Channel.moderation],
                frames[Channel.presenter],
                frames[Channel.public],
                strict=True,
            )
        ),
    )
    return list(seqs)


def channel_column(channel: Channel) -> Any:
    return {
        Channel.moderation: Update.moderation,
        Channel.presenter: Update.presenter,
        Channel.public: Update.public,
    }[channel]


async def updates_after(
    session: AsyncSession, live_event_id: int, after: int, limit: int
) -> Sequence[Update]:
    """The log after ``after``, in seq order (all channels; callers pick their column)."""
    rows = await session.scalars(
        select(Update)
        .where(Update.live_event_id == live_event_id, Update.seq > after)
        .order_by(Update.seq)
        .limit(limit)
    )
    return rows.all()


async def last_seq(session: AsyncSession, live_event_id: int) -> int:
    value = await session.scalar(select(LiveEvent.last_seq).where(LiveEvent.id == live_event_id))
    return int(value or 0)
