"""Fan-out of the update log to connected clients, with the database as the queue.

Each worker keeps one Feed per LiveEvent that has clients. A feed tails the log in seq order
(woken by notifications after commit, and polling as a safety net), and offers every update to
its subscribers' bounded queues. Because the feed reads the committed log rather than trusting
notifications, updates arrive in order with no gap even when notifications come late, twice, out
of order, or from another process.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.realtime.schemas import Channel
from app.realtime.service import last_seq, updates_after

log = logging.getLogger(__name__)

# How many updates one feed read takes; a larger backlog is read in several passes.
FEED_BATCH = 500


@dataclass(eq=False)
class Subscriber:
    """One connected client: its channel and a bounded queue of (seq, frame) to send."""

    live_event_id: int
    channel: Channel
    maxsize: int
    queue: asyncio.Queue[tuple[int, str] | None] = field(init=False)
    lagging: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.maxsize)

    def offer(self, seq: int, frame: str) -> None:
        """Queue a frame without ever waiting: a full queue marks the client as lagging."""
        if self.lagging:
            return
        try:
            self.queue.put_nowait((seq, frame))
        except asyncio.QueueFull:
            # Drop what it has not read and leave only the stop signal: the client reconnects
            # and resumes from the log, at its own pace, without holding anyone else back.
            self.lagging = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Feed:
    """Tails one LiveEvent's update log for this worker's subscribers."""

    def __init__(
        self,
        live_event_id: int,
        start_seq: int,
        maker: async_sessionmaker[AsyncSession],
        poll_seconds: float,
    ) -> None:
        self.live_event_id = live_event_id
        self.last_seq = start_seq
        self.subscribers: set[Subscriber] = set()
        self.wake = asyncio.Event()
        self._maker = maker
        self._poll_seconds = poll_seconds
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self._poll_seconds)
            self.wake.clear()
            try:
                await self._catch_up()
            except Exception:
                # A database hiccup must not kill the feed: the next wake or poll retries
                # from the same seq, so nothing is lost.
                log.exception("feed for LiveEvent %s failed to read the log", self.live_event_id)

    async def _catch_up(self) -> None:
        while True:
            async with self._maker() as session:
                rows = await updates_after(session, self.live_event_id, self.last_seq, FEED_BATCH)
            for row in rows:
                frames = {
                    Channel.moderation: row.moderation,
                    Channel.presenter: row.presenter,
                    Channel.public: row.public,
                }
                for sub in list(self.subscribers):
                    frame = frames[sub.channel]
                    if frame is not None:
                        sub.offer(row.seq, frame)
                self.last_seq = row.seq
            if len(rows) < FEED_BATCH:
                return


class Seats:
    """Open staff sockets per account on this worker, against a cap."""

    def __init__(self) -> None:
        self._taken: Counter[int] = Counter()

    def take(self, user_id: int, limit: int) -> bool:
        if self._taken[user_id] >= limit:
            return False
        self._taken[user_id] += 1
        return True

    def give_back(self, user_id: int) -> None:
        self._taken[user_id] -= 1
        if self._taken[user_id] <= 0:
            del self._taken[user_id]

    def held(self, user_id: int) -> int:
        return self._taken[user_id]


class Hub:
    """This worker's feeds. ``notify`` is called after commit; the in-process default."""

    def __init__(
        self,
        read_maker: async_sessionmaker[AsyncSession],
        *,
        queue_size: int,
        poll_seconds: float,
    ) -> None:
        self._maker = read_maker
        self._queue_size = queue_size
        self._poll_seconds = poll_seconds
        self._feeds: dict[int, Feed] = {}
        self._lock = asyncio.Lock()
        self.seats = Seats()

    def notify(self, live_event_ids: Iterable[int]) -> None:
        for live_event_id in live_event_ids:
            feed = self._feeds.get(live_event_id)
            if feed is not None:
                feed.wake.set()

    def notify_all(self) -> None:
        """Wake every feed (after a gap in notifications: each reads what it missed)."""
        self.notify(list(self._feeds))

    async def subscribe(self, live_event_id: int, channel: Channel) -> Subscriber:
        """Register a client. Everything committed after this returns reaches its queue.

        The caller then replays the log after the client's seq; updates found both ways are
        told apart by seq at send time.
        """
        async with self._lock:
            feed = self._feeds.get(live_event_id)
            if feed is None:
                async with self._maker() as session:
                    start = await last_seq(session, live_event_id)
                feed = Feed(live_event_id, start, self._maker, self._poll_seconds)
                feed.task = asyncio.create_task(feed.run(), name=f"tribune-feed-{live_event_id}")
                self._feeds[live_event_id] = feed
            sub = Subscriber(live_event_id, channel, self._queue_size)
            feed.subscribers.add(sub)
            return sub

    async def unsubscribe(self, sub: Subscriber) -> None:
        async with self._lock:
            feed = self._feeds.get(sub.live_event_id)
            if feed is None:
                return
            feed.subscribers.discard(sub)
            if not feed.subscribers:
                del self._feeds[sub.live_event_id]
                if feed.task is not None:
                    feed.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await feed.task

    def connection_counts(self) -> dict[Channel, int]:
        counts = dict.fromkeys(Channel, 0)
        for feed in self._feeds.values():
            for sub in feed.subscribers:
                counts[sub.channel] += 1
        return counts

    async def close(self) -> None:
        async with self._lock:
            feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
