"""Fan-out across workers through Redis: each commit's updates, as written, to every worker.

The update log in the database stays the one source of truth. After a commit, the writing
worker hands its updates to its own feeds at once and publishes them on one Redis channel;
every worker holds one subscription to it and hands them to its feeds, which send them on
with no read of the log when they follow on from what they sent, and read the log when they
do not (a message lost or late, a commit too big to carry, which goes as the LiveEvent's id
alone). A message names the bus that sent it, which skips its own: its feeds have those
updates already. If Redis drops, feeds keep polling the log (``TRIBUNE_POLL_SECONDS``), the
bus reconnects with backoff, and on return every feed catches up at once. Clients never notice
beyond a second of latency.
"""

import asyncio
import contextlib
import json
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.db import Committed, LoggedUpdate
from app.realtime.hub import Hub

log = logging.getLogger(__name__)

# Reconnect waits after Redis drops: doubling from the first to the last.
RECONNECT_FIRST_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 5.0
# How long a read waits for a message before checking the connection again.
READ_TIMEOUT_SECONDS = 1.0
# This worker's own feeds get a commit's updates once they are on their way to the others
# (Redis answered the PUBLISH), or after this long if Redis is slow: a fan-out to thousands of
# sockets holds the event loop for tens of milliseconds, and the publish must not wait for it.
HAND_LOCAL_WITHIN_SECONDS = 0.005
# A message carries its updates up to this many characters of frames; beyond (an ingest batch
# of thousands), only the LiveEvents' ids, and the other workers read the log.
CARRY_CHARS = 256 * 1024


class RedisBus:
    """The worker's one Redis subscription and its publisher: a ``Notifier`` for transactions."""

    def __init__(self, url: str, channel: str, hub: Hub) -> None:
        self.channel = channel
        self._hub = hub
        # What names this bus in its messages (see _message), to know its own.
        self.origin = uuid.uuid4().hex
        self._redis: Redis = Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
        )
        # Updates waiting to be published, by LiveEvent: a tick's commits become one message.
        # None where one of those commits carried nothing: the others read the log for it.
        self._outbox: dict[int, list[LoggedUpdate] | None] = {}
        self._pending = asyncio.Event()
        # Commits waiting to be handed to this worker's feeds until the publish is out.
        self._local: list[Committed] = []
        self._local_timer: asyncio.TimerHandle | None = None
        self.connected = False
        self._tasks: list[asyncio.Task[None]] = []

    def notify(self, committed: Committed) -> None:
        """After commit: hand the updates to the other workers, then to this one's feeds.

        Others first: this worker's fan-out holds its event loop, and with the publish behind
        it the other workers' clients would wait for this worker's as well as their own."""
        for live_event_id, updates in committed.items():
            merged = self._outbox.setdefault(live_event_id, [])
            if not updates:
                self._outbox[live_event_id] = None
            elif merged is not None:
                merged.extend(updates)
        self._pending.set()
        self._local.append(committed)
        if not self.connected:  # Redis away: nothing to wait for
            self._hand_local()
        elif self._local_timer is None:
            self._local_timer = asyncio.get_running_loop().call_later(
                HAND_LOCAL_WITHIN_SECONDS, self._hand_local
            )

    def _hand_local(self) -> None:
        if self._local_timer is not None:
            self._local_timer.cancel()
            self._local_timer = None
        local, self._local = self._local, []
        for committed in local:
            self._hub.notify(committed)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._subscribe(), name="tribune-redis-subscriber"),
            asyncio.create_task(self._publish(), name="tribune-redis-publisher"),
        ]

    async def close(self) -> None:
        self._hand_local()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()

    async def ping(self) -> bool:
        """Whether Redis answers now (for /readyz)."""
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def _publish(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            outbox, self._outbox = self._outbox, {}
            committed = {key: updates or [] for key, updates in outbox.items()}
            try:
                await self._redis.publish(self.channel, _message(self.origin, committed))
            except (RedisError, OSError) as exc:
                # Other workers find these updates on their next poll of the log.
                log.warning("could not publish to Redis (%s); other workers will poll", exc)
            self._hand_local()

    async def _subscribe(self) -> None:
        wait = RECONNECT_FIRST_SECONDS
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if not self.connected:
                    log.info("subscribed to Redis channel %s", self.channel)
                self.connected = True
                wait = RECONNECT_FIRST_SECONDS
                # Whatever was committed while we were away: read it now, not at the next poll.
                self._hub.notify_all()
                while True:
                    message = await pubsub.get_message(timeout=READ_TIMEOUT_SECONDS)
                    if message is not None:
                        origin, committed = _parse(message.get("data"))
                        if origin != self.origin:
                            self._hub.notify(committed)
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning("lost Redis (%s); feeds poll the log until it is back", exc)
                self.connected = False
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            await asyncio.sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX_SECONDS)


def _message(origin: str, committed: Committed) -> str:
    """A bus message: ``<updates>|<origin>|<LiveEvent ids>``, where the updates are JSON
    (``{"<LiveEvent id>": [[seq, moderation, presenter, public], ...]}``), left out past
    CARRY_CHARS of frames. The ids come last, as in the earlier form (``<origin>|3,17``),
    which a worker of the earlier version still reads from it mid-upgrade."""
    ids = ",".join(map(str, sorted(committed)))
    size = sum(
        len(update.moderation) + len(update.presenter or "") + len(update.public or "")
        for updates in committed.values()
        for update in updates
    )
    carried = {str(key): updates for key, updates in committed.items() if updates}
    payload = json.dumps(carried, ensure_ascii=False) if carried and size <= CARRY_CHARS else ""
    return f"{payload}|{origin}|{ids}"


def _parse(data: object) -> tuple[str, dict[int, list[LoggedUpdate]]]:
    """The sending bus and what a bus message hands over, by LiveEvent: its updates, or none
    (read the log) where they were left out, are not what a bus sends, or the message is in
    the earlier form (``<origin>|3,17``, from a worker of the earlier version mid-upgrade)."""
    text = data.decode() if isinstance(data, bytes) else str(data)
    rest, _, ids = text.rpartition("|")
    payload, _, origin = rest.rpartition("|")
    named: dict[int, list[LoggedUpdate]] = {
        int(part): [] for part in ids.split(",") if part.isdigit()
    }
    if payload:
        try:
            carried = json.loads(payload)
        except ValueError:
            carried = None
        if isinstance(carried, dict):
            for key in named:
                named[key] = _updates(carried.get(str(key)))
        else:
            log.warning("a message on the Redis channel carried no readable updates")
    return origin, named


def _updates(value: object) -> list[LoggedUpdate]:
    """A message's updates of one LiveEvent; none (read the log) unless every one is well
    formed, so that a feed never sends a frame it cannot account for by seq."""
    if not isinstance(value, list):
        return []
    updates = []
    for item in value:
        if not (
            isinstance(item, list)
            and len(item) == 4
            and type(item[0]) is int
            and isinstance(item[1], str)
            and all(frame is None or isinstance(frame, str) for frame in item[2:])
        ):
            return []
        updates.append(LoggedUpdate(*item))
    return updates
