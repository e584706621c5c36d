"""LiveEvents: create, read, edit, open and close."""

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import TEAM_ROLES, Role, User
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.events.models import LiveEvent, LiveEventState, TeamMember
from app.events.schemas import LiveEventCreate, LiveEventOut, LiveEventUpdate, TeamMemberOut
from app.realtime.schemas import Channel
from app.realtime.service import emit

# scheduled → live → ended, and an ended show may be reopened (a stream that dropped).
_STATE_MOVES = {
    LiveEventState.scheduled: {LiveEventState.live, LiveEventState.ended},
    LiveEventState.live: {LiveEventState.ended},
    LiveEventState.ended: {LiveEventState.live},
}


_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com"}


def player_url(stream_url: str, parent_host: str) -> str | None:
    """The iframe ``src`` for a LiveEvent's stream URL.

    Operators paste what they have: a YouTube or Vimeo watch page, a Twitch channel, or a
    player URL. Known watch pages become their embeddable players (YouTube's privacy-enhanced
    host); any other HTTPS URL is used as it is. Anything not HTTPS gives no player.
    """
    parts = urlsplit(stream_url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return None
    segments = [s for s in parts.path.split("/") if s]
    video: str | None = None
    if host in _YOUTUBE_HOSTS:
        if parts.path == "/watch":
            video = (parse_qs(parts.query).get("v") or [""])[0]
        elif len(segments) == 2 and segments[0] in ("live", "shorts", "embed"):
            video = segments[1]
    elif host == "youtu.be" and len(segments) == 1:
        video = segments[0]
    if video is not None:
        return f"https://www.youtube-nocookie.com/embed/{video}" if _VIDEO_ID.match(video) else None
    if host in ("vimeo.com", "www.vimeo.com") and len(segments) == 1 and segments[0].isdigit():
        return f"https://player.vimeo.com/video/{segments[0]}"
    if host in ("twitch.tv", "www.twitch.tv") and len(segments) == 1:
        # Twitch refuses to play unless told which site embeds it.
        channel, parent = quote(segments[0]), quote(parent_host)
        return f"https://player.twitch.tv/?channel={channel}&parent={parent}"
    return stream_url


async def get_by_slug(session: AsyncSession, slug: str) -> LiveEvent:
    live_event = await session.scalar(select(LiveEvent).where(LiveEvent.slug == slug))
    if live_event is None:
        raise NotFound(f"no LiveEvent with slug {slug!r}")
    return live_event


async def get(session: AsyncSession, live_event_id: int) -> LiveEvent:
    live_event = await session.get(LiveEvent, live_event_id)
    if live_event is None:
        raise NotFound(f"no LiveEvent {live_event_id}")
    return live_event


async def list_all(session: AsyncSession) -> list[LiveEvent]:
    rows = await session.scalars(select(LiveEvent).order_by(LiveEvent.starts_at, LiveEvent.id))
    return list(rows.all())


async def list_for(session: AsyncSession, user: User) -> list[tuple[LiveEvent, Role]]:
    """The LiveEvents this user works, with their role on each: all of them for an admin,
    else those of their teams."""
    if user.role is Role.admin:
        return [(e, Role.admin) for e in await list_all(session)]
    rows = await session.execute(
        select(LiveEvent, TeamMember.role)
        .join(TeamMember)
        .where(TeamMember.user_id == user.id)
        .order_by(LiveEvent.starts_at, LiveEvent.id)
    )
    return [(live_event, role) for live_event, role in rows]


async def role_on(session: AsyncSession, user: User, live_event_id: int) -> Role | None:
    """The user's role on this LiveEvent: admin everywhere for admins, else their team role."""
    if user.role is Role.admin:
        return Role.admin
    return await session.scalar(
        select(TeamMember.role).where(
            TeamMember.live_event_id == live_event_id, TeamMember.user_id == user.id
        )
    )


async def require_role(
    session: AsyncSession, user: User, live_event: LiveEvent, allowed: frozenset[Role]
) -> Role:
    """The user's role on the LiveEvent if it is one of ``allowed``; else Forbidden."""
    role = await role_on(session, user, live_event.id)
    if role is None:
        raise Forbidden(f"you are not on the team of LiveEvent {live_event.slug!r}")
    if role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise Forbidden(f"this needs the role {names} on {live_event.slug!r}; you are {role.value}")
    return role


async def team(session: AsyncSession, live_event: LiveEvent) -> list[TeamMemberOut]:
    rows = await session.execute(
        select(User, TeamMember.role)
        .join(TeamMember, TeamMember.user_id == User.id)
        .where(TeamMember.live_event_id == live_event.id)
        .order_by(User.username)
    )
    return [
        TeamMemberOut(
            username=user.username,
            display_name=user.display_name,
            role=role,
            is_active=user.is_active,
        )
        for user, role in rows
    ]


async def assign(
    session: AsyncSession, live_event: LiveEvent, user: User, role: Role | None = None
) -> TeamMemberOut:
    """Put a user on the LiveEvent's team, or change their role there.

    Without a role, the user's account role is used (a moderator account moderates)."""
    if user.role is Role.admin:
        raise Invalid(f"{user.username!r} is an admin and already runs every LiveEvent")
    role = role or user.role
    if role not in TEAM_ROLES:
        raise Invalid("a team role is moderator or spokesperson")
    member = await session.get(TeamMember, (live_event.id, user.id))
    if member is None:
        session.add(TeamMember(live_event_id=live_event.id, user_id=user.id, role=role))
    else:
        member.role = role
    await session.flush()
    return TeamMemberOut(
        username=user.username, display_name=user.display_name, role=role, is_active=user.is_active
    )


async def unassign(session: AsyncSession, live_event: LiveEvent, user: User) -> None:
    """Take a user off the team; their open screens for it close within seconds."""
    member = await session.get(TeamMember, (live_event.id, user.id))
    if member is None:
        raise NotFound(f"{user.username!r} is not on the team of {live_event.slug!r}")
    await session.delete(member)
    await session.flush()


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
    if "stream_url" in fields:  # null clears it: no stream
        fields["stream_url"] = str(data.stream_url) if data.stream_url else ""
    for name, value in fields.items():
        setattr(live_event, name, value)
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
