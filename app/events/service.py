"""LiveEvents: create, read, edit, open and close."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.events.models import LiveEvent, LiveEventState
from app.events.schemas import LiveEventCreate, LiveEventOut, LiveEventUpdate
from app.realtime.schemas import Channel
from app.realtime.service import emit

# scheduled → live → ended, and an ended show may be reopened (a stream that dropped).
_STATE_MOVES = {
    LiveEventState.scheduled: {LiveEventState.live, LiveEventState.ended},
    LiveEventState.live: {LiveEventState.ended},
    LiveEventState.ended: {LiveEventState.live},
}


async def get_by_slug(session: AsyncSession, slug: str) -> LiveEvent:
    live_event = await session.scalar(select(LiveEvent).where(LiveEvent.slug == slug))
    if live_event is None:
        raise NotFound(f"no LiveEvent with slug {slug!r}")
    return live_event


async def list_all(session: AsyncSession) -> list[LiveEvent]:
    rows = await session.scalars(select(LiveEvent).order_by(LiveEvent.starts_at, LiveEvent.id))
    return list(rows.all())


def public_view(live_event: LiveEvent) -> dict[str, Any]:
    return LiveEventOut.model_validate(live_event).model_dump(mode="json")


async def create(session: AsyncSession, data: LiveEventCreate) -> LiveEvent:
    """Create a LiveEvent; its slug must be new."""
    if await session.scalar(select(LiveEvent.id).where(LiveEvent.slug == data.slug)):
        raise Conflict(f"a LiveEvent with slug {data.slug!r} already exists")
    fields = data.model_dump(exclude={"hashtag"}, exclude_none=True)
    if "stream_url" in fields:
        fields["stream_url"] = str(data.stream_url)
    live_event = LiveEvent(**fields)
    session.add(live_event)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create with the same slug
        raise Conflict(f"a LiveEvent with slug {data.slug!r} already exists") from exc
    return live_event


async def edit(session: AsyncSession, live_event: LiveEvent, data: LiveEventUpdate) -> LiveEvent:
    """Change a LiveEvent's fields or state; every screen hears of it."""
    fields = data.model_dump(exclude_unset=True)
    state = fields.pop("state", None)
    if state is not None and state != live_event.state:
        if state not in _STATE_MOVES[live_event.state]:
            raise Conflict(f"a LiveEvent cannot go from {live_event.state.value} to {state}")
        live_event.state = LiveEventState(state)
    for name, value in fields.items():
        setattr(live_event, name, str(value) if name == "stream_url" and value else value)
    starts, ends = live_event.starts_at, live_event.ends_at
    if starts and ends and ends <= starts:
        raise Conflict("ends_at must be after starts_at")
    await session.flush()
    view = public_view(live_event)
    await emit(
        session,
        live_event.id,
        "live_event",
        {channel: {"live_event": view} for channel in Channel},
    )
    await session.refresh(live_event)
    return live_event
