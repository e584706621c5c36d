"""Emitting updates: the only way a change reaches a screen."""

from collections.abc import Sequence
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
    ["live_event_id", "seq", "kind", "created_at", "moderation", "presenter", "public"],
)


def _encode(seq: int, kind: str, body: dict[str, Any] | None) -> str | None:
    if body is None:
        return None
    # seq and type first, so a reader of a raw frame sees them at once. A channel's body may
    # name its own type (a question leaving the public's view is "question.removed" there).
    message = {"seq": seq, "type": kind, **body}
    # pydantic-core's encoder: the same compact UTF-8 JSON as json.dumps(separators=(",", ":"),
    # ensure_ascii=False) for JSON-ready bodies, three times faster, and it serialises a
    # pydantic model in a body directly (as its model_dump_json would). Both count when an
    # ingest batch writes thousands of frames.
    return to_json(message, fallback=str).decode()


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
    session: AsyncSession, live_event_id: int, kind: str, batch: Sequence[ChannelMessages]
) -> list[int]:
    """``emit`` for many updates at once (an ingest batch): one seq range, one insert."""
    if not batch:
        return []
    end = (
        await session.execute(
            update(LiveEvent)
            .where(LiveEvent.id == live_event_id)
            .values(last_seq=LiveEvent.last_seq + len(batch))
            .returning(LiveEvent.last_seq)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    seqs = list(range(int(end) - len(batch) + 1, int(end) + 1))
    count = len(batch)
    frames: dict[Channel, list[str | None]] = {channel: [] for channel in Channel}
    for seq, messages in zip(seqs, batch, strict=True):
        for channel, column in frames.items():
            column.append(_encode(seq, kind, messages.get(channel)))
    if None in frames[Channel.moderation]:
        raise ValueError("the moderation channel sees every update")
    columns: dict[str, list[Any]] = {
        "live_event_id": [live_event_id] * count,
        "seq": seqs,
        "kind": [kind] * count,
        "created_at": [utcnow()] * count,
        **{channel.value: column for channel, column in frames.items()},
    }
    await _INSERT_UPDATES.run(session, columns)
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
    return seqs


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
