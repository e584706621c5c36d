"""Fan-out across workers through Redis: "these LiveEvents have new updates", nothing more.

The update log in the database stays the one source of truth. After a commit, the writing
worker wakes its own feeds at once and publishes the LiveEvent ids on one Redis channel; every
worker holds one subscription to it and wakes its feeds, which read the committed log in seq
order and fan out to their clients. A message names the bus that sent it, which skips its
own: its feeds woke at commit, and reading the log again would find nothing (a query per
update for nothing). So Redis carries no data that could be lost: if it drops,
feeds keep polling the log (``TRIBUNE_POLL_SECONDS``), the bus reconnects with backoff, and on
return every feed catches up at once. Clients never notice beyond a second of latency.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.realtime.hub import Hub

log = logging.getLogger(__name__)

# Reconnect waits after Redis drops: doubling from the first to the last.
RECONNECT_FIRST_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 5.0
# How long a read waits for a message before checking the connection again.
READ_TIMEOUT_SECONDS = 1.0


class RedisBus:
    """The worker's one Redis subscription and its publisher: a ``Notifier`` for transactions."""

    def __init__(self, url: str, channel: str, hub: Hub) -> None:
        self.channel = channel
        self._hub = hub
        # What this bus's messages start with ("<origin>|3,17"), to know its own.
        self.origin = uuid.uuid4().hex
        self._redis: Redis = Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
        )
        # Ids waiting to be published. A set: many commits in one tick become one message.
        self._outbox: set[int] = set()
        self._pending = asyncio.Event()
        self.connected = False
        self._tasks: list[asyncio.Task[None]] = []

    def notify(self, live_event_ids: Iterable[int]) -> None:
        """After commit: wake this worker's feeds now, and tell the other workers."""
        ids = set(live_event_ids)
        self._hub.notify(ids)
        self._outbox |= ids
        self._pending.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._subscribe(), name="tribune-redis-subscriber"),
            asyncio.create_task(self._publish(), name="tribune-redis-publisher"),
        ]

    async def close(self) -> None:
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
            ids, self._outbox = self._outbox, set()
            try:
                text = ",".join(map(str, sorted(ids)))
                await self._redis.publish(self.channel, f"{self.origin}|{text}")
            except (RedisError, OSError) as exc:
                # Other workers find these updates on their next poll of the log.
                log.warning("could not publish to Redis (%s); other workers will poll", exc)

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
                        origin, ids = _parse(message.get("data"))
                        if origin != self.origin:
                            self._hub.notify(ids)
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning("lost Redis (%s); feeds poll the log until it is back", exc)
                self.connected = False
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            await asyncio.sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX_SECONDS)


def _parse(data: object) -> tuple[str, list[int]]:
    """The sending bus and the LiveEvent ids of a bus message ("<origin>|3,17"). A message
    without an origin (from a worker of an earlier version, mid-upgrade) is someone else's;
    anything that is not an id names no LiveEvent."""
    text = data.decode() if isinstance(data, bytes) else str(data)
    origin, _, ids = text.rpartition("|")
    return origin, [int(part) for part in ids.split(",") if part.isdigit()]
