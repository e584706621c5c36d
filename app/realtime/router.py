"""The three WebSocket channels of a LiveEvent: resume from ``?after=<seq>``, then live."""

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketState

from app.accounts.deps import session_cookie, user_from_credentials
from app.accounts.models import User
from app.config import Settings
from app.errors import AppError
from app.events import service as events
from app.realtime.hub import Hub
from app.realtime.schemas import (
    CHANNEL_ROLES,
    CLOSE_LAGGING,
    CLOSE_RESYNC,
    Channel,
)
from app.realtime.service import last_seq
from app.realtime.wire import frame_writer
from app.security import SlidingWindow, is_https

log = logging.getLogger(__name__)

router = APIRouter()

# Policy violation: what a refused handshake closes with (uvicorn answers HTTP 403).
CLOSE_POLICY = 1008


def _frame(kind: str, seq: int, **fields: object) -> str:
    return json.dumps({"seq": seq, "type": kind, **fields}, separators=(",", ":"))


def _heartbeat(seq: int) -> str:
    return _frame("heartbeat", seq, time=datetime.now(UTC).isoformat())


def _origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """No Origin (not a browser) passes; a browser's must be Tribune's own or listed, exactly
    ("null" and look-alikes never match)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    scheme = "https" if is_https(websocket, settings.trusted_proxies) else "http"
    own = f"{scheme}://{websocket.headers.get('host', '')}"
    return origin == own or origin in settings.allowed_origins


@dataclass(frozen=True, slots=True)
class Admission:
    """Who is let in, where. Ids, not the LiveEvent row: a socket may live for hours, and
    thousands of them should not each keep an ORM object alive."""

    live_event_id: int
    slug: str
    user_id: int | None  # None on the public channel: nobody signs in there


async def _staff_user(
    websocket: WebSocket, session: AsyncSession, live_event_id: int, channel: Channel
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
    role = await events.role_on(session, user, live_event_id)
    return user if role in roles else None


# How long the public channel trusts that a slug names a LiveEvent without asking again. A
# reconnect storm (a network blip, a worker restart) brings thousands of audience sockets
# back within a second: they cost one query, not one each. A LiveEvent deleted meanwhile keeps
# its public sockets open this much longer, and they carry nothing.
PUBLIC_ADMISSION_SECONDS = 2.0


class _PublicAdmissions:
    """slug → Admission for the public channel, for PUBLIC_ADMISSION_SECONDS (per app)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[Admission, float]] = {}

    def get(self, slug: str) -> Admission | None:
        found = self._known.get(slug)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, admission: Admission) -> None:
        if len(self._known) > 1000:  # slugs are few; a scan of made-up ones must not grow this
            self._known.clear()
        self._known[admission.slug] = (admission, time.monotonic() + PUBLIC_ADMISSION_SECONDS)


async def _authorise(
    websocket: WebSocket, maker: async_sessionmaker[AsyncSession], slug: str, channel: Channel
) -> Admission | None:
    """Who is let in on this channel; None after refusing it."""
    public = CHANNEL_ROLES[channel] is None
    if public:
        state = websocket.app.state
        if not hasattr(state, "public_admissions"):
            state.public_admissions = _PublicAdmissions()
        cache: _PublicAdmissions = state.public_admissions
        if (admission := cache.get(slug)) is not None:
            return admission
    async with maker() as session:
        try:
            live_event = await events.get_by_slug(session, slug)
        except AppError:
            return None
        if public:
            admission = Admission(live_event.id, live_event.slug, None)
            cache.put(admission)
            return admission
        user = await _staff_user(websocket, session, live_event.id, channel)
        return Admission(live_event.id, live_event.slug, user.id) if user else None


# How often an authenticated socket checks that its user may still be here: logging out,
# a revoked session or a disabled account closes it within this long.
AUTH_RECHECK_SECONDS = 2.0
CLOSE_SIGNED_OUT = 4003


async def _watch_credentials(
    websocket: WebSocket,
    maker: async_sessionmaker[AsyncSession],
    live_event_id: int,
    channel: Channel,
) -> None:
    """Close the socket once its user may no longer be here: logged out, session revoked,
    account disabled, taken off the LiveEvent's team or given a role without this channel."""
    while True:
        await asyncio.sleep(AUTH_RECHECK_SECONDS)
        async with maker() as session:
            user = await _staff_user(websocket, session, live_event_id, channel)
        if user is None:
            await websocket.close(CLOSE_SIGNED_OUT, "signed out")
            return


# A client may send a few pings; anything faster is abuse (the sockets take no commands).
CLIENT_MESSAGES_PER_SECOND = 10


async def _read_client(websocket: WebSocket) -> None:
    """Read what the client sends, so a closed socket is noticed at once.

    Sockets only carry updates out: the one message a client may send is "ping". Anything
    else (an attempt to act through the socket) is answered with an error and changes
    nothing; actions go through the API, where every one is authorised. A flood closes it.
    """
    window: SlidingWindow | None = None  # most clients never send anything
    while True:
        message = await websocket.receive_text()
        window = window or SlidingWindow(CLIENT_MESSAGES_PER_SECOND, 1.0)
        if window.hit("client") is not None:
            await websocket.close(CLOSE_POLICY, "too many messages")
            return
        if message == "ping":
            await websocket.send_text(_frame("pong", -1))
        else:
            await websocket.send_text(
                _frame("error", -1, message="this socket takes no commands; use the API")
            )


class ChannelSocket:
    """``/ws/events/{slug}/{channel}?after=<seq>``: connect with the seq of the state the
    page rendered.

    The server sends ``hello``, then every update of the channel after that seq in order, then
    live ones, with a ``heartbeat`` whenever it is quiet. Updates committed together (or read
    together) come as one message: a JSON array of the updates, each with its own seq, e.g.
    ``[{"seq":7,"type":"question",...},{"seq":8,...}]``; a lone update is sent as itself.
    A seq too old (or from the future) is answered with ``resync``: reload a snapshot and
    reconnect from its seq. A client that reads too slowly is closed with code 4008 and
    should resume from the last seq it saw.

    A plain ASGI app rather than a FastAPI endpoint: live updates go to the server's ``send``
    as they are (one prebuilt message per batch, for every client), without the wrappers
    starlette puts around each call. Across 10,000 sockets that is a fifth of the cost of a
    delivery. Handshake, reads and closes still go through starlette's WebSocket.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        settings: Settings = websocket.app.state.settings
        maker: async_sessionmaker[AsyncSession] = websocket.app.state.read_sessionmaker
        hub: Hub = websocket.app.state.hub
        slug: str = scope["path_params"]["slug"]
        try:
            chan = Channel(scope["path_params"]["channel"])
            after = int(websocket.query_params.get("after", "0"))
        except ValueError:
            await websocket.close(CLOSE_POLICY, "unknown channel or bad seq")
            return
        if CHANNEL_ROLES[chan] is not None and not _origin_allowed(websocket, settings):
            # A page on another site must not ride a moderator's cookie into these channels.
            await websocket.close(CLOSE_POLICY, "origin not allowed")
            return
        admission = await _authorise(websocket, maker, slug, chan)
        if admission is None:
            await websocket.close(CLOSE_POLICY, "not allowed")
            return
        if admission.user_id is not None and not hub.seats.take(
            admission.user_id, settings.ws_connections_per_user
        ):
            # One account's sockets are capped: a leaked token cannot open thousands.
            await websocket.close(CLOSE_POLICY, "too many open connections for this account")
            return
        try:
            await websocket.accept()
            await _serve(websocket, send, maker, hub, settings, admission, chan, after)
        finally:
            if admission.user_id is not None:
                hub.seats.give_back(admission.user_id)


# A route whose endpoint is not a function is routed as an ASGI app, as is.
router.routes.append(
    WebSocketRoute("/ws/events/{slug}/{channel}", ChannelSocket(), name="channel_socket")
)


async def _serve(
    websocket: WebSocket,
    send: Send,
    maker: async_sessionmaker[AsyncSession],
    hub: Hub,
    settings: Settings,
    admission: Admission,
    chan: Channel,
    after: int,
) -> None:
    live_event_id = admission.live_event_id
    sub = await hub.subscribe(live_event_id, chan)
    watch: asyncio.Task[None] | None = None
    try:
        # Everything after sub.start reaches the subscriber; the replay covers (after, start].
        current = sub.start
        if after > current:
            # Ahead of this worker's feed: fine if the log has it (the page was rendered from
            # a commit the feed has not read yet); from the future otherwise.
            async with maker() as session:
                current = max(current, await last_seq(session, live_event_id))
        if after < 0 or after > current or current - after > settings.resume_window:
            await websocket.send_text(_frame("resync", current))
            await websocket.close(CLOSE_RESYNC, "resync")
            return
        await websocket.send_text(
            _frame("hello", after, channel=chan.value, heartbeat=settings.heartbeat_seconds)
        )
        async for batch in hub.replay(sub, after):
            await websocket.send_text(batch.frame)

        async def close_lagging() -> None:
            await websocket.close(CLOSE_LAGGING, "too far behind; resume from your last seq")

        # From here the feed sends to this socket itself, and the subscriber's timer sends
        # heartbeats: this task only reads the client. Staff sockets have a second task
        # rechecking credentials; the public channel has nothing to recheck (nobody signs
        # in there), so a public connection costs one task.
        sub.go_live(
            send,
            close_lagging,
            max(after, sub.start),
            heartbeat=settings.heartbeat_seconds,
            beat=_heartbeat,
            write=frame_writer(websocket.scope),
        )
        if CHANNEL_ROLES[chan] is not None:
            watch = asyncio.create_task(_watch_credentials(websocket, maker, live_event_id, chan))
        await _read_client(websocket)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away, or its socket was closed under a send (lagging, signed out)
    finally:
        sub.stop()
        if watch is not None:
            watch.cancel()
            try:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await watch
            except Exception as exc:
                log.warning("socket for %s/%s ended: %r", admission.slug, chan.value, exc)
        await hub.unsubscribe(sub)
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()
