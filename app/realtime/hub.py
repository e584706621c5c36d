"""Fan-out of the update log to connected clients, with the database as the queue.

Each worker keeps one Feed per LiveEvent that has clients. After a commit, the feed is handed
the updates as written (by this worker's transaction, or through Redis from another's) and
offers them to its subscribers' bounded queues, with no read of the log, when they follow on
from the last seq it sent. Anything else (a notification late, lost, or without its updates)
wakes the feed to read the committed log from that seq, and it also polls the log as a safety
net. So every client gets every update once, in seq order, with no gap, whatever the
notifications do.

What a tick's commits hand over, or one read brings, is coalesced: for each channel, the
updates it may see become one Batch, one message for every client of that channel, built once
(the stored frames joined, never re-encoded). A burst of a hundred updates is then one send per
client instead of a hundred. The feed also keeps the latest updates it sent, so that clients
coming back after a blip replay from memory instead of each querying the log.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Message, Send

from app.db import Committed, LoggedUpdate
from app.realtime.models import Update
from app.realtime.schemas import Channel
from app.realtime.service import last_seq
from app.realtime.wire import WriteFrame, text_frame

log = logging.getLogger(__name__)

# How many updates one feed read takes; a larger backlog is read in several passes.
FEED_BATCH = 500
# A batch message stays under this many characters (it is split beyond): any client reads it
# in one go (the websockets client's default limit is 1 MiB), and a page parses it in a blink.
MAX_BATCH_CHARS = 64 * 1024
# Updates each feed keeps in memory for replay. A reconnect storm (a network blip, a worker
# restart behind a load balancer) brings thousands of clients back a few updates behind at
# once; served from here, that costs no query per client. Older positions replay from the log.
RECENT_UPDATES = 1000
# Distinct replays a feed keeps built between two reads of the log (see Feed._replays).
REPLAYS_KEPT = 64


def frame_of(update: LoggedUpdate, channel: Channel) -> str | None:
    """The update's frame on ``channel``; None if that channel does not see it."""
    if channel is Channel.public:
        return update.public
    if channel is Channel.presenter:
        return update.presenter
    return update.moderation


class Batch:
    """Consecutive updates of one channel, sent as one message.

    One update is sent as its own frame, unchanged; several as a JSON array of their frames
    (``[{"seq":7,...},{"seq":8,...}]``), joined as stored: the encoding is done once, at emit.
    Every item keeps its seq, so clients still track and resume per update.
    """

    __slots__ = ("frame", "frames", "made", "message", "seqs", "wire")

    def __init__(self, seqs: Sequence[int], frames: Sequence[str]) -> None:
        self.seqs = tuple(seqs)
        self.frames = tuple(frames)
        self.frame = message(frames)
        # Built once for every client: the ASGI message (servers do not change it), and the
        # same as one WebSocket frame, for servers that write those as they are (wire.py).
        self.message = text_message(self.frame)
        self.wire = text_frame(self.frame)
        # A fan-out sends a batch to every client within moments of making it: this is when
        # those sockets last sent something, as far as heartbeats care, without reading the
        # clock once per client.
        self.made = time.monotonic()

    def __len__(self) -> int:
        return len(self.seqs)

    @property
    def last(self) -> int:
        return self.seqs[-1]

    def after(self, seq: int) -> Message | None:
        """The ASGI message for a client that already has everything up to ``seq``, if any."""
        if self.seqs[-1] <= seq:
            return None
        if self.seqs[0] > seq:
            return self.message
        # Only right after a replay that overlapped the live feed: rebuild the rest.
        rest = [f for s, f in zip(self.seqs, self.frames, strict=True) if s > seq]
        return text_message(message(rest))


def message(frames: Sequence[str]) -> str:
    """One update's frame as it is; several as a JSON array, joined without re-parsing."""
    return frames[0] if len(frames) == 1 else "[" + ",".join(frames) + "]"


def text_message(text: str) -> Message:
    """The ASGI message that sends ``text`` on a socket."""
    return {"type": "websocket.send", "text": text}


def batches(rows: Iterable[LoggedUpdate], channel: Channel) -> list[Batch]:
    """The channel's share of ``rows`` as batches, each under MAX_BATCH_CHARS when it can be."""
    out: list[Batch] = []
    seqs: list[int] = []
    frames: list[str] = []
    size = 0
    for row in rows:
        frame = frame_of(row, channel)
        if frame is None:
            continue
        if frames and size + len(frame) + 1 > MAX_BATCH_CHARS:
            out.append(Batch(seqs, frames))
            seqs, frames, size = [], [], 0
        seqs.append(row.seq)
        frames.append(frame)
        size += len(frame) + 1
    if frames:
        out.append(Batch(seqs, frames))
    return out


async def read_log(
    session: AsyncSession, live_event_id: int, after: int, upto: int | None, limit: int
) -> list[LoggedUpdate]:
    """The log after ``after`` (up to ``upto``), in seq order: every channel's frame."""
    query = select(Update.seq, Update.moderation, Update.presenter, Update.public).where(
        Update.live_event_id == live_event_id, Update.seq > after
    )
    if upto is not None:
        query = query.where(Update.seq <= upto)
    result = await session.execute(query.order_by(Update.seq).limit(limit))
    return [LoggedUpdate(*row) for row in result]


# What closes a client's socket for lagging (code 4008).
Close = Callable[[], Awaitable[None]]
# The heartbeat frame for a client at a seq.
Beat = Callable[[int], str]
# A send started by hand (Awaitable.__await__()), to be driven to its end.
Steps = Generator[Any, Any, None]


class _Rest:
    """Awaits the rest of a send that was started by hand and is suspended on ``waiting``
    (what it yielded): each later yield goes to the task that awaits this, as a
    ``yield from`` would. This is Python 3.12's eager task start, for 3.11."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Steps, waiting: object) -> None:
        self._coro = coro
        self._waiting = waiting

    def __await__(self) -> Steps:
        coro, waiting = self._coro, self._waiting
        while True:
            try:
                value = yield waiting
            except BaseException as exc:  # cancellation included: the coroutine handles it
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coro.send(value)
                except StopIteration:
                    return


class Subscriber:
    """One connected client: its channel, its position, and a bounded queue for when its
    socket cannot take a message at once.

    The feed hands each batch to every subscriber in turn, and a subscriber sends it on the
    spot: the send is started by hand, and on a socket that can take it (the usual case)
    it completes without ever suspending, so a delivery costs no task and no event loop
    round, as with websockets' broadcast(). Only a send that has to wait (the client's
    buffer is full) gets a task, which finishes it and then sends what queued meanwhile.

    The queue never waits and is bounded in updates, not messages, so a client's backlog is
    bounded in memory and in lag whether it came as single updates or as batches. A client
    that lets more pile up is marked lagging and closed (code 4008): it resumes from its last
    seq, at its own pace, without holding anyone else back. The queue also holds what arrives
    while the connection replays the log, until ``go_live``.
    """

    __slots__ = (
        "_backlog",
        "_batches",
        "_beat",
        "_close",
        "_flusher",
        "_heartbeat",
        "_send",
        "_timer",
        "_write",
        "channel",
        "lagging",
        "live_event_id",
        "maxsize",
        "quiet_since",
        "sent",
        "start",
        "stopped",
    )

    def __init__(self, live_event_id: int, channel: Channel, maxsize: int, start: int = 0) -> None:
        self.live_event_id = live_event_id
        self.channel = channel
        self.maxsize = maxsize
        # The feed's position when this client subscribed: every update after it comes
        # through here; the connection replays what is before it.
        self.start = start
        # The last seq sent (or known to the client): later batches skip what it covers.
        self.sent = start
        # When the socket last sent something (time.monotonic()): heartbeats fill silences.
        self.quiet_since = time.monotonic()
        self.lagging = False
        self.stopped = False
        # Made when first needed: most clients never have anything queued once live, and an
        # empty deque is most of a kilobyte, times every connection.
        self._batches: deque[Batch] | None = None
        self._backlog = 0
        # The server's ASGI send: None until go_live (batches queue up meanwhile).
        self._send: Send | None = None
        # The server's prebuilt-frame writer, when it offers one (app.realtime.wire).
        self._write: WriteFrame | None = None
        self._close: Close | None = None
        self._beat: Beat | None = None
        self._heartbeat = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._flusher: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        """Updates queued and not yet sent."""
        return self._backlog

    def offer(self, batch: Batch) -> None:
        """Send a batch now if the socket is free, else queue it; never wait. A batch larger
        than the bound still goes to a client with nothing queued: that client keeps up."""
        if self.lagging or self.stopped:
            return
        send = self._send
        if send is not None and self._flusher is None:
            # Live and idle, so nothing is queued: order is kept by sending at once.
            if batch.seqs[0] > self.sent:  # the usual case, inlined: this runs per client
                write = self._write
                if write is not None and write(batch.wire):
                    self.sent = batch.seqs[-1]
                    self.quiet_since = batch.made
                else:
                    self._start(send, batch.message, batch.seqs[-1])
            elif (message := batch.after(self.sent)) is not None:
                self._start(send, message, batch.last)
            return
        if self._backlog and self._backlog + len(batch) > self.maxsize:
            # Drop what it has not read: the client resumes from the log.
            self.lagging = True
            self._batches = None
            self._backlog = 0
            return
        if self._batches is None:
            self._batches = deque()
        self._batches.append(batch)
        self._backlog += len(batch)

    def go_live(
        self,
        send: Send,
        close: Close,
        sent: int,
        *,
        heartbeat: float,
        beat: Beat,
        write: WriteFrame | None = None,
    ) -> None:
        """The replay is done up to ``sent``: send what queued meanwhile, then all at once;
        and a heartbeat (``beat(seq)``) whenever the socket is quiet for ``heartbeat``
        seconds. One timer per connection, rearmed once per period, not per message.
        ``write`` is the server's prebuilt-frame writer, if it has one: live batches go
        through it, and through ``send`` whenever it declines."""
        self._send, self._close, self.sent, self._write = send, close, sent, write
        self._heartbeat, self._beat = heartbeat, beat
        self.quiet_since = time.monotonic()
        self._timer = asyncio.get_running_loop().call_later(heartbeat, self._tick)
        while self._flusher is None and not self.stopped:
            batch = self._take()
            if batch is None:
                break
            message = batch.after(self.sent)
            if message is not None:
                self._start(send, message, batch.last)
        if self.lagging and self._flusher is None and not self.stopped:
            self._flusher = asyncio.get_running_loop().create_task(self._finish(None, None, 0))

    def stop(self) -> None:
        """The connection is ending: send nothing more."""
        self._gone()
        if self._flusher is not None:
            self._flusher.cancel()

    def _tick(self) -> None:
        if self.stopped or self._beat is None:
            return
        now = time.monotonic()
        if now - self.quiet_since >= self._heartbeat:
            send = self._send
            if send is not None and self._flusher is None:
                self._start(send, text_message(self._beat(self.sent)), self.sent)
            # Sent or not (a clogged socket is not quiet, only slow): a period from now.
            self.quiet_since = now
        delay = self.quiet_since + self._heartbeat - now
        self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _take(self) -> Batch | None:
        if not self._batches:
            return None
        batch = self._batches.popleft()
        self._backlog -= len(batch)
        return batch

    def _start(self, send: Send, message: Message, last: int) -> None:
        coro = send(message).__await__()
        try:
            waiting = coro.send(None)
        except StopIteration:
            self.sent = last
            self.quiet_since = time.monotonic()
            return
        except Exception:
            # The socket is gone (or closing): its connection notices and unsubscribes.
            self._gone()
            return
        self._flusher = asyncio.get_running_loop().create_task(self._finish(coro, waiting, last))

    async def _finish(self, coro: Steps | None, waiting: object, last: int) -> None:
        """Finish a send that had to wait, send what queued behind it, close if lagging."""
        send, close = self._send, self._close
        try:
            if send is None or close is None:  # never: only started once live
                return
            if coro is not None:
                await _Rest(coro, waiting)
                self.sent = last
            while (batch := self._take()) is not None:
                message = batch.after(self.sent)
                if message is not None:
                    await send(message)
                    self.sent = batch.last
            self.quiet_since = time.monotonic()
            if self.lagging and not self.stopped:
                await close()
        except Exception:
            self._gone()
        finally:
            # Reached only with nothing queued (no await since the last check): later
            # batches go straight out again.
            self._flusher = None

    def _gone(self) -> None:
        self.stopped = True
        self._batches = None
        self._backlog = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Feed:
    """Tails one LiveEvent's update log for this worker's subscribers."""

    def __init__(
        self,
        live_event_id: int,
        start_seq: int,
        maker: async_sessionmaker[AsyncSession],
        poll_seconds: float,
        recent: Iterable[LoggedUpdate] = (),
    ) -> None:
        self.live_event_id = live_event_id
        # Every subscriber has been offered everything up to here (true at every await).
        self.last_seq = start_seq
        # A dict as an ordered set: sending in the order clients came walks their objects
        # in the order they were allocated, which is measurably kinder to the CPU's caches
        # than a set's hash order when there are 10,000 of them.
        self.subscribers: dict[Subscriber, None] = {}
        self.recent: deque[LoggedUpdate] = deque(recent, RECENT_UPDATES)
        # Replays built from memory, by (channel, after, upto). In a reconnect storm thousands
        # of clients come back from the same few positions: each answer is built once. Only
        # the latest few are kept (a new read changes every client's upto anyway).
        self._replays: dict[tuple[Channel, int, int], list[Batch]] = {}
        self.wake = asyncio.Event()
        # Updates handed over by this tick's commits, sent at its end (take); None: none yet.
        self._taken: list[LoggedUpdate] | None = None
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
                rows = await read_log(session, self.live_event_id, self.last_seq, None, FEED_BATCH)
            # Commits handed over while the read was out (take) went out already.
            fresh = [row for row in rows if row.seq > self.last_seq]
            if fresh:
                self._fan_out(fresh)
            if len(rows) < FEED_BATCH:
                return

    def take(self, committed: Sequence[LoggedUpdate]) -> None:
        """Updates just committed, as written. At the end of the event loop's tick, what the
        tick's commits handed over goes out as one batch per channel, with no read of the log,
        as far as it follows on from what the feed has sent. Anything else (a commit of
        another worker not heard of yet, a commit whose updates were not carried) wakes the
        feed to read the log, which has them all, in order."""
        if not committed:
            self.wake.set()
            return
        if self._taken is None:
            self._taken = []
            asyncio.get_running_loop().call_soon(self._send_taken)
        self._taken.extend(committed)

    def _send_taken(self) -> None:
        taken, self._taken = sorted(self._taken or ()), None  # take() put one at least
        expected = self.last_seq + 1
        run: list[LoggedUpdate] = []
        for update in taken:
            if update.seq < expected:
                continue  # sent already (read from the log meanwhile, or handed over twice)
            if update.seq != expected:
                break
            run.append(update)
            expected += 1
        if run:
            self._fan_out(run)
        if taken[-1].seq > self.last_seq:
            self.wake.set()

    def _fan_out(self, rows: list[LoggedUpdate]) -> None:
        # No await from here to the end: a client subscribing meanwhile would miss these.
        channels = {sub.channel for sub in self.subscribers}
        shares = {channel: batches(rows, channel) for channel in channels}
        for sub in self.subscribers:
            for batch in shares[sub.channel]:
                sub.offer(batch)
        self.recent.extend(rows)
        self._replays.clear()
        self.last_seq = rows[-1].seq

    def replay(self, channel: Channel, after: int, upto: int) -> list[Batch] | None:
        """The channel's updates in (after, upto] from memory; None if memory does not reach
        back that far."""
        if after >= upto:
            return []
        if not self.recent or self.recent[0].seq > after + 1 or self.recent[-1].seq < upto:
            return None
        key = (channel, after, upto)
        if (known := self._replays.get(key)) is not None:
            return known
        # The log has no gap, so seq n sits at n - recent[0].seq; checked, not assumed.
        first = after + 1 - self.recent[0].seq
        wanted = [self.recent[i] for i in range(first, first + upto - after)]
        if wanted[0].seq != after + 1 or wanted[-1].seq != upto:
            return None
        if len(self._replays) >= REPLAYS_KEPT:
            self._replays.clear()
        built = self._replays[key] = batches(wanted, channel)
        return built


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
        # Feeds being started (reading their position and memory from the log), by LiveEvent.
        self._starting: dict[int, asyncio.Task[Feed]] = {}
        self.seats = Seats()

    def notify(self, committed: Committed) -> None:
        for live_event_id, updates in committed.items():
            feed = self._feeds.get(live_event_id)
            if feed is not None:
                feed.take(updates)

    def notify_all(self) -> None:
        """Wake every feed (after a gap in notifications: each reads what it missed)."""
        for feed in self._feeds.values():
            feed.wake.set()

    async def subscribe(self, live_event_id: int, channel: Channel) -> Subscriber:
        """Register a client. Everything after ``Subscriber.start`` reaches its queue.

        The caller then replays the log from the client's seq up to ``start`` (``replay``);
        what both ways carry is told apart by seq at send time.

        No lock: in a reconnect storm 10,000 clients subscribe within a second, and asyncio's
        Lock scans its waiters on every acquire (quadratic). A feed being started is one
        task that every client waiting for it awaits.
        """
        while True:
            feed = self._feeds.get(live_event_id)
            if feed is None:
                starting = self._starting.get(live_event_id)
                if starting is None:
                    starting = asyncio.create_task(self._start_feed(live_event_id))
                    self._starting[live_event_id] = starting
                # Shielded: a client leaving while it waits must not cancel it for the rest.
                feed = await asyncio.shield(starting)
            if self._feeds.get(live_event_id) is not feed:
                continue  # emptied and stopped while this client waited: start afresh
            # No await from the check above to here: the feed is live, and this client is in.
            sub = Subscriber(live_event_id, channel, self._queue_size, feed.last_seq)
            feed.subscribers[sub] = None
            return sub

    async def _start_feed(self, live_event_id: int) -> Feed:
        try:
            async with self._maker() as session:
                start = await last_seq(session, live_event_id)
                # The latest updates too, for clients resuming a few updates behind.
                recent = await read_log(
                    session, live_event_id, start - RECENT_UPDATES, start, RECENT_UPDATES
                )
            feed = Feed(live_event_id, start, self._maker, self._poll_seconds, recent)
            feed.task = asyncio.create_task(feed.run(), name=f"tribune-feed-{live_event_id}")
            self._feeds[live_event_id] = feed
            return feed
        finally:
            # Failed or not, the next client starts from scratch (a database blip retries).
            self._starting.pop(live_event_id, None)

    async def replay(self, sub: Subscriber, after: int) -> AsyncIterator[Batch]:
        """The subscriber's channel in (after, start], for a client that has ``after``: from
        the feed's memory when it reaches back that far, else from the log, page by page."""
        feed = self._feeds.get(sub.live_event_id)
        cached = feed.replay(sub.channel, after, sub.start) if feed is not None else None
        if cached is not None:
            for batch in cached:
                yield batch
            return
        position = after
        while position < sub.start:
            async with self._maker() as session:
                rows = await read_log(session, sub.live_event_id, position, sub.start, FEED_BATCH)
            if not rows:
                return
            for batch in batches(rows, sub.channel):
                yield batch
            position = rows[-1].seq

    async def unsubscribe(self, sub: Subscriber) -> None:
        sub.stop()
        feed = self._feeds.get(sub.live_event_id)
        if feed is None:
            return
        feed.subscribers.pop(sub, None)
        if not feed.subscribers:
            # The last one out stops the feed; a client arriving from now on starts a new one.
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
        for starting in list(self._starting.values()):
            starting.cancel()
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
