"""x-stream: X's filtered stream through tweepy's StreamingClient, with gap fill.

tweepy reads the stream in a thread. Its callbacks only hand data over to an asyncio queue and
never raise (an exception in a callback would stop the stream for good). Tribune owns the
reconnect policy: each callback that ends a connection also stops tweepy's own retry loop, so
the waits follow X's rules (ingest.sources.x_common.Backoff) and every reconnect is followed by
a recent-search gap fill from the last stored id, since X has no backfill on this tier.
"""

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import tweepy
from pydantic import BaseModel, ConfigDict, Field

from app.ingest.base import Batch, Source
from app.ingest.schemas import NormalisedPost
from app.ingest.sources.x_common import Backoff, SourceStopped, XContext
from app.ingest.xpayload import PayloadError, load_json, parse_stream_message
from app.x.client import make_search_client, point_session
from app.x.reading import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, newest, search_since

log = logging.getLogger(__name__)

# One batch (one transaction) takes at most this many posts; a burst is several batches.
MAX_BATCH = 500
# tweepy reads the stream with a 21 s read timeout, above X's 20 s keep-alive.
STREAM_READ_TIMEOUT = 21


class XStreamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str = Field(min_length=1, max_length=1024)
    # Identifies this LiveEvent's rule among the app's rules (one stream per app on X).
    tag: str = Field(min_length=1, max_length=64)
    source_name: str = "x"


@dataclass(frozen=True)
class StreamEvent:
    kind: str  # "connected", "data", "http_error", "network_error", "closed"
    payload: bytes = b""
    status: int = 0


class _Listener(tweepy.StreamingClient):  # type: ignore[misc]  # tweepy is untyped
    """Hands everything to the asyncio side. Never raises, and ends a connection on any
    error instead of letting tweepy sleep and retry by itself."""

    def __init__(
        self, bearer_token: str, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[StreamEvent]
    ) -> None:
        super().__init__(bearer_token, wait_on_rate_limit=False, max_retries=0)
        self._loop = loop
        self._queue = queue

    def _put(self, event: StreamEvent) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: Tribune is stopping
            self.running = False

    def on_connect(self) -> None:
        self._put(StreamEvent("connected"))

    def on_data(self, raw_data: bytes) -> None:
        self._put(StreamEvent("data", payload=raw_data))

    def on_request_error(self, status_code: int) -> None:
        self._put(StreamEvent("http_error", status=status_code))
        self.disconnect()

    def on_connection_error(self) -> None:
        self._put(StreamEvent("network_error"))
        self.disconnect()

    def on_closed(self, response: Any) -> None:
        self._put(StreamEvent("closed"))
        self.disconnect()

    def on_exception(self, exception: Exception) -> None:
        log.error("stream reader failed: %r", exception)
        self._put(StreamEvent("network_error"))

    def on_disconnect(self) -> None:
        return None


class XStreamSource(Source):
    slug: ClassVar[str] = "x-stream"
    title: ClassVar[str] = "X filtered stream"
    config_model: ClassVar[type[BaseModel]] = XStreamConfig

    def __init__(self, config: XStreamConfig, context: XContext) -> None:
        bearer = context.credentials.bearer_token
        if bearer is None:
            raise SourceStopped("the X stream needs TRIBUNE_X_BEARER_TOKEN")
        self.config = config
        self.context = context
        self._bearer = bearer.get_secret_value()
        self.backoff = Backoff(scale=context.backoff_scale)

    def _client(self) -> tweepy.Client:
        return make_search_client(self.context.credentials, self.context.base_url)

    async def ensure_rule(self) -> None:
        """Make the app's rules hold exactly this LiveEvent's rule under its tag."""

        def sync() -> None:
            client = tweepy.StreamingClient(self._bearer, wait_on_rate_limit=False)
            point_session(client.session, self.context.base_url)
            try:
                response = client.get_rules()
            except tweepy.Unauthorized as exc:
                raise SourceStopped(_auth_message(401)) from exc
            current = response.data or []
            stale = [
                r.id for r in current if r.tag == self.config.tag and r.value != self.config.rule
            ]
            if stale:
                client.delete_rules(stale)
            if not any(r.tag == self.config.tag and r.value == self.config.rule for r in current):
                added = client.add_rules(tweepy.StreamRule(self.config.rule, tag=self.config.tag))
                if added.errors:
                    detail = "; ".join(str(e.get("title", e)) for e in added.errors)
                    raise SourceStopped(f"X refused the stream rule: {detail}")

        await asyncio.to_thread(sync)

    async def _gap_fill(self, since_id: str | None) -> Batch | None:
        if not since_id:
            return None
        client = self._client()
        try:
            result = await asyncio.to_thread(
                search_since, client, self.config.rule, since_id, self.config.source_name
            )
        except tweepy.Unauthorized as exc:
            raise SourceStopped(_auth_message(401)) from exc
        except (tweepy.TweepyException, OSError) as exc:
            # The stream goes on; a later reconnect fills from the same stored id again.
            log.warning("gap fill after %s failed: %r", since_id, exc)
            return None
        if not result.posts:
            return None
        return Batch(posts=result.posts, cursor=newest(since_id, result.newest_id) or since_id)

    async def batches(self, cursor: str) -> AsyncIterator[Batch]:
        """Posts as the stream gives them, and after each (re)connect, what it missed."""
        await self.ensure_rule()
        last_id: str | None = cursor or None
        loop = asyncio.get_running_loop()
        # Gap fills due later, because search lags real time: (when, since which id).
        later: list[tuple[float, str]] = []
        while True:
            queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
            listener = _Listener(self._bearer, loop, queue)
            point_session(listener.session, self.context.base_url)
            await self.report("connecting")
            thread = threading.Thread(
                target=listener.filter,
                kwargs={
                    "expansions": EXPANSIONS,
                    "tweet_fields": TWEET_FIELDS,
                    "user_fields": USER_FIELDS,
                },
                name="tribune-x-stream",
                daemon=True,
            )
            thread.start()
            wait = 0.0
            try:
                while True:
                    timeout = min((due for due, _ in later), default=None)
                    event = await self._next(
                        queue, None if timeout is None else max(0.0, timeout - loop.time())
                    )
                    if event is None:  # a delayed gap fill is due
                        due_now = [since for due, since in later if due <= loop.time()]
                        later = [(d, s) for d, s in later if d > loop.time()]
                        for since in due_now:
                            batch = await self._gap_fill(since)
                            if batch is not None:
                                last_id = newest(last_id, batch.cursor)
                                yield batch.model_copy(update={"cursor": last_id or ""})
                        continue
                    if event.kind == "connected":
                        self.backoff.reset()
                        await self.report("connected", f"rule: {self.config.rule}")
                        batch = await self._gap_fill(last_id)
                        if last_id:
                            later.append(
                                (
                                    loop.time()
                                    + self.context.search_lag_seconds * self.context.backoff_scale,
                                    last_id,
                                )
                            )
                        if batch is not None:
                            last_id = newest(last_id, batch.cursor)
                            yield batch.model_copy(update={"cursor": last_id or ""})
                    elif event.kind == "data":
                        posts = [*self._parse(event.payload)]
                        while not queue.empty() and len(posts) < MAX_BATCH:
                            more = queue.get_nowait()
                            if more.kind != "data":
                                queue.put_nowait(more)  # handled on the next turn
                                break
                            posts.extend(self._parse(more.payload))
                        if posts:
                            for post in posts:
                                last_id = newest(last_id, post.external_id)
                            yield Batch(posts=posts, cursor=last_id or "")
                    elif event.kind == "http_error":
                        if event.status in (401, 403):
                            raise SourceStopped(_auth_message(event.status))
                        wait = self.backoff.http_error(event.status)
                        await self._reconnecting(f"X answered HTTP {event.status}", wait)
                        break
                    else:
                        wait = self.backoff.network_error()
                        reason = "the stream closed" if event.kind == "closed" else "network error"
                        await self._reconnecting(reason, wait)
                        break
            finally:
                listener.disconnect()
            await asyncio.sleep(wait)

    @staticmethod
    async def _next(
        queue: asyncio.Queue[StreamEvent], wait_seconds: float | None
    ) -> StreamEvent | None:
        if wait_seconds is None:
            return await queue.get()
        try:
            return await asyncio.wait_for(queue.get(), wait_seconds)
        except TimeoutError:
            return None

    async def _reconnecting(self, reason: str, wait: float) -> None:
        at = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%H:%M:%S UTC")
        await self.report("reconnecting", f"{reason}; next try at {at}")

    def _parse(self, raw: bytes) -> list[NormalisedPost]:
        try:
            message = load_json(raw)
            if not isinstance(message, dict) or "data" not in message:
                return []  # an error or a system message: nothing to store
            return [parse_stream_message(message, self.config.source_name, _text_of(raw))]
        except (ValueError, PayloadError) as exc:
            log.warning("stream line skipped: %s", exc)
            return []


def _text_of(line: bytes) -> str:
    """A stream line as text, which the post keeps as its payload's JSON (rather than have
    the payload encoded again); "" when the line is not UTF-8 (X's are), so it is encoded."""
    try:
        return line.strip().decode()
    except UnicodeDecodeError:
        return ""


def _auth_message(status: int) -> str:
    what = "refused the credentials" if status == 401 else "forbade this app the stream"
    return (
        f"X {what} (HTTP {status}). The source is stopped and will not retry: check "
        "TRIBUNE_X_BEARER_TOKEN and the app's access level, then restart the source."
    )
