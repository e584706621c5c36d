"""The three WebSocket channels of a LiveEvent: resume from ``?after=<seq>``, then live."""

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocketState

from app.accounts.deps import session_cookie, user_from_credentials
from app.accounts.models import User
from app.config import Settings
from app.errors import AppError
from app.events import service as events
from app.events.models import LiveEvent
from app.realtime.hub import Hub, Subscriber
from app.realtime.models import Update
from app.realtime.schemas import (
    CHANNEL_ROLES,
    CLOSE_LAGGING,
    CLOSE_RESYNC,
    Channel,
)
from app.realtime.service import channel_column
from app.security import SlidingWindow, is_https

log = logging.getLogger(__name__)

router = APIRouter()

# Replay reads the log in pages of this many updates.
REPLAY_PAGE = 500
# Policy violation: what a refused handshake closes with (uvicorn answers HTTP 403).
CLOSE_POLICY = 1008


def _frame(kind: str, seq: int, **fields: object) -> str:
    return json.dumps({"seq": seq, "type": kind, **fields}, separators=(",", ":"))


def _origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """No Origin (not a browser) passes; a browser's must be Tribune's own or listed, exactly
    ("null" and look-alikes never match)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    scheme = "https" if is_https(websocket, settings.trusted_proxies) else "http"
    own = f"{scheme}://{websocket.headers.get('host', '')}"
    return origin == own or origin in settings.allowed_origins


@dataclass(frozen=True)
class Admission:
    live_event: LiveEvent
    user_id: int | None  # None on the public channel: nobody signs in there


async def _staff_user(
    websocket: WebSocket, session: AsyncSession, live_event: LiveEvent, channel: Channel
) -> User | None:
    """The signed-in user if their role on this LiveEvent opens the channel, else None."""
    roles = CHANNEL_ROLES[channel]
    try:
        user = await user_from_credentials(
            session,
            websocket.headers.get("authorization"),
            session_cookie(websocket.cookies),
        )
    except AppError:
        return None
    if user is None or roles is None:
        return None
    role = await events.role_on(session, user, live_event.id)
    return user if role in roles else None


async def _authorise(
    websocket: WebSocket, maker: async_sessionmaker[AsyncSession], slug: str, channel: Channel
) -> Admission | None:
    """Who is let in on this channel; None after refusing it."""
    async with maker() as session:
        try:
            live_event = await events.get_by_slug(session, slug)
        except AppError:
            return None
        if CHANNEL_ROLES[channel] is None:
            return Admission(live_event, None)
        user = await _staff_user(websocket, session, live_event, channel)
        return Admission(live_event, user.id) if user else None


async def _replay(
    websocket: WebSocket,
    maker: async_sessionmaker[AsyncSession],
    live_event_id: int,
    channel: Channel,
    after: int,
    upto: int,
) -> int:
    """Send the channel's updates in (after, upto] from the log; return the last seq covered."""
    column = channel_column(channel)
    position = after
    while position < upto:
        async with maker() as session:
            rows = (
                await session.execute(
                    select(Update.seq, column)
                    .where(
                        Update.live_event_id == live_event_id,
                        Update.seq > position,
                        Update.seq <= upto,
                    )
                    .order_by(Update.seq)
                    .limit(REPLAY_PAGE)
                )
            ).all()
        if not rows:
            break
        for seq, frame in rows:
            if frame is not None:
                await websocket.send_text(frame)
            position = seq
    return upto


async def _pump(websocket: WebSocket, sub: Subscriber, sent: int, heartbeat: float) -> None:
    """Send live updates in seq order, skipping what replay already sent; heartbeat when idle."""
    while True:
        try:
            item = await asyncio.wait_for(sub.queue.get(), heartbeat)
        except TimeoutError:
            now = datetime.now(UTC).isoformat()
            await websocket.send_text(_frame("heartbeat", sent, time=now))
            continue
        if item is None:
            await websocket.close(CLOSE_LAGGING, "too far behind; resume from your last seq")
            return
        seq, frame = item
        if seq <= sent:
            continue
        await websocket.send_text(frame)
        sent = seq


# How often an authenticated socket checks that its user may still be here: logging out,
# a revoked session or a disabled account closes it within this long.
AUTH_RECHECK_SECONDS = 2.0
CLOSE_SIGNED_OUT = 4003


async def _watch_credentials(
    websocket: WebSocket,
    maker: async_sessionmaker[AsyncSession],
    live_event: LiveEvent,
    channel: Channel,
) -> None:
    """Close the socket once its user may no longer be here: logged out, session revoked,
    account disabled, taken off the LiveEvent's team or given a role without this channel."""
    if CHANNEL_ROLES[channel] is None:
        await asyncio.Event().wait()  # public: nothing to watch, ever
    while True:
        await asyncio.sleep(AUTH_RECHECK_SECONDS)
        async with maker() as session:
            user = await _staff_user(websocket, session, live_event, channel)
        if user is None:
            await websocket.close(CLOSE_SIGNED_OUT, "signed out")
            return


# A client may send a few pings; anything faster is abuse (the sockets take no commands).
CLIENT_MESSAGES_PER_SECOND = 10


async def _drain_client(websocket: WebSocket) -> None:
    """Read what the client sends, so a closed socket is noticed at once.

    Sockets only carry updates out: the one message a client may send is "ping". Anything
    else (an attempt to act through the socket) is answered with an error and changes
    nothing; actions go through the API, where every one is authorised. A flood closes it.
    """
    window = SlidingWindow(CLIENT_MESSAGES_PER_SECOND, 1.0)
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive_text()
            if window.hit("client") is not None:
                await websocket.close(CLOSE_POLICY, "too many messages")
                return
            if message == "ping":
                await websocket.send_text(_frame("pong", -1))
            else:
                await websocket.send_text(
                    _frame("error", -1, message="this socket takes no commands; use the API")
                )


@router.websocket("/ws/events/{slug}/{channel}")
async def channel_socket(websocket: WebSocket, slug: str, channel: str, after: int = 0) -> None:
    """Connect with ``?after=<seq>`` (the seq of the state the page rendered).

    The server sends ``hello``, then every update of the channel after that seq in order, then
    live ones, with a ``heartbeat`` whenever it is quiet. A seq too old (or from the future) is
    answered with ``resync``: reload a snapshot and reconnect from its seq. A client that reads
    too slowly is closed with code 4008 and should resume from the last seq it saw.
    """
    settings: Settings = websocket.app.state.settings
    maker: async_sessionmaker[AsyncSession] = websocket.app.state.read_sessionmaker
    hub: Hub = websocket.app.state.hub
    try:
        chan = Channel(channel)
    except ValueError:
        await websocket.close(CLOSE_POLICY, "unknown channel")
        return
    if CHANNEL_ROLES[chan] is not None and not _origin_allowed(websocket, settings):
        # A page on another site must not ride a moderator's cookie into these channels.
        await websocket.close(CLOSE_POLICY, "origin not allowed")
        return
    admission = await _authorise(websocket, maker, slug, chan)
    if admission is None:
        await websocket.close(CLOSE_POLICY, "not allowed")
        return
    live_event = admission.live_event
    if admission.user_id is not None and not hub.seats.take(
        admission.user_id, settings.ws_connections_per_user
    ):
        # One account's sockets are capped: a leaked token cannot open thousands.
        await websocket.close(CLOSE_POLICY, "too many open connections for this account")
        return
    try:
        await websocket.accept()
        await _serve(websocket, maker, hub, settings, live_event, chan, after)
    finally:
        if admission.user_id is not None:
            hub.seats.give_back(admission.user_id)


async def _serve(
    websocket: WebSocket,
    maker: async_sessionmaker[AsyncSession],
    hub: Hub,
    settings: Settings,
    live_event: LiveEvent,
    chan: Channel,
    after: int,
) -> None:
    sub = await hub.subscribe(live_event.id, chan)
    try:
        async with maker() as session:
            current = int(
                await session.scalar(
                    select(LiveEvent.last_seq).where(LiveEvent.id == live_event.id)
                )
                or 0
            )
        if after < 0 or after > current or current - after > settings.resume_window:
            await websocket.send_text(_frame("resync", current))
            await websocket.close(CLOSE_RESYNC, "resync")
            return
        await websocket.send_text(
            _frame("hello", after, channel=chan.value, heartbeat=settings.heartbeat_seconds)
        )
        sent = await _replay(websocket, maker, live_event.id, chan, after, current)
        pump = asyncio.create_task(_pump(websocket, sub, sent, settings.heartbeat_seconds))
        drain = asyncio.create_task(_drain_client(websocket))
        watch = asyncio.create_task(_watch_credentials(websocket, maker, live_event, chan))
        done, pending = await asyncio.wait(
            {pump, drain, watch}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                log.warning("socket for %s/%s ended: %r", live_event.slug, chan.value, exc)
    except WebSocketDisconnect:
        pass
    finally:
        await hub.unsubscribe(sub)
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()
