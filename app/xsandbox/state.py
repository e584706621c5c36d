"""Everything the sandbox remembers: posts, rules, the account's posts, streams, faults, counters.

The state is a plain object shared by the sandbox app's routes and by whoever drives it (tests,
the control API, a playback task). Its data sits behind one lock that is never held across an
``await``, so it is safe within one event loop and may also be driven from another thread (a
test thread while uvicorn runs in its own): stream deliveries are handed to each connection's
loop with ``call_soon_threadsafe``.
"""

import asyncio
import contextlib
import copy
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel
from twitter_text import parse_tweet

from app.xsandbox import problems
from app.xsandbox.matching import Node, PostView, parse_query, rule_errors

EndpointGroup = Literal["stream", "rules", "search", "tweets", "users_me"]
ENDPOINT_GROUPS: tuple[str, ...] = get_args(EndpointGroup)

# X's limits on pay-per-use (X_API.md): 1,000 rules, 280 weighted characters a post.
MAX_RULES = 1000
MAX_WEIGHTED_LENGTH = 280
# A recording's quiet stretches are shortened to this before the speed-up: rehearsals should not
# sit through a lull where the host was talking.
MAX_PLAYBACK_GAP_SECONDS = 10.0
# Posts a stream connection may have waiting; a client further behind is cut off, as X does to
# slow readers, rather than letting the sandbox's memory grow.
STREAM_BACKLOG = 10_000
# X's per-15-minute limits for the groups without a configurable one; they only appear in the
# headers of an injected 429 (stream: connection attempts; users/me: per user).
_FIXED_LIMITS = {"stream": 50, "rules": 450, "users_me": 75}
# X's ids are snowflakes: milliseconds since this epoch, shifted left by 22 bits.
_SNOWFLAKE_EPOCH_MS = 1288834974657
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")


class SandboxConfig(BaseModel):
    """Credentials the sandbox accepts, the account it posts as, and its limits."""

    # Well-known sandbox credentials, public on purpose: they are worth nothing on X.
    bearer_token: str = "sandbox-bearer"  # noqa: S105
    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: str = "sandbox-consumer-secret"  # noqa: S105
    access_token: str = "sandbox-access-token"  # noqa: S105
    access_token_secret: str = "sandbox-access-secret"  # noqa: S105
    # An OAuth 2.0 user-context access token, sent as a bearer token.
    user_access_token: str = "sandbox-oauth2-user-token"  # noqa: S105
    account_id: str = "1500000000000000001"
    account_username: str = "AuroraBank"
    account_name: str = "Banque Aurore / Aurora Bank"
    # X sends a keep-alive at least every 20 s; tests shrink it so clients notice a disconnect.
    keepalive_seconds: float = 20.0
    rate_limit_window_seconds: float = 900
    search_rate_limit: int = 450
    tweets_rate_limit: int = 100
    # OAuth 1.0a signatures are checked against this base, as X would see the request.
    canonical_base_url: str = "https://api.twitter.com"


@dataclass(frozen=True)
class CreatedPost:
    """A post the account created through POST /2/tweets."""

    id: str
    text: str
    in_reply_to_tweet_id: str | None
    conversation_id: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredRule:
    id: str
    value: str
    tag: str
    query: Node

    def as_dict(self) -> dict[str, str]:
        # Always with a tag: tweepy fails on a matching rule without one.
        return {"id": self.id, "value": self.value, "tag": self.tag}


@dataclass(frozen=True)
class RateStatus:
    """One request's view of its rate-limit window."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset),
        }


@dataclass
class _Window:
    start: float
    used: int


@dataclass
class _Indexed:
    message: dict[str, Any]
    view: PostView


class StreamConnection:
    """One open filtered-stream connection: a queue of encoded lines, on the loop serving it.

    ``None`` in the queue ends the response.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(STREAM_BACKLOG)
        self.delivered = 0

    def offer(self, item: bytes | None) -> None:
        """Queue a line (or the end), from the connection's loop or from any other thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._put(item)
        else:
            # The loop may be gone already (server stopped): nothing left to deliver to.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._put, item)

    def _put(self, item: bytes | None) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Too far behind: drop the backlog and end the connection, as X does.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        if item is not None:
            self.delivered += 1


def load_recording(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines recording: one X v2 filtered-stream message per non-blank line."""
    messages: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
                raise ValueError(f"{path}:{number}: not a stream message (no 'data' object)")
            messages.append(message)
    return messages


def _check_messages(messages: Sequence[dict[str, Any]]) -> None:
    for message in messages:
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, dict) or not str(data.get("id") or "").isdigit():
            raise ValueError("each message needs a 'data' object with a numeric string 'id'")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    """Now, as X writes times (``2026-12-03T18:00:02.000Z``)."""
    return _iso(datetime.now(UTC))


def _parse_created_at(message: dict[str, Any]) -> datetime | None:
    value = (message.get("data") or {}).get("created_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _x_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _entities(text: str) -> dict[str, Any]:
    entities: dict[str, Any] = {}
    hashtags = [
        {"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in _HASHTAG.finditer(text)
    ]
    mentions = [
        {"start": m.start(), "end": m.end(), "username": m.group(1)}
        for m in _MENTION.finditer(text)
    ]
    if hashtags:
        entities["hashtags"] = hashtags
    if mentions:
        entities["mentions"] = mentions
    return entities


class SandboxState:
    """All mutable sandbox state; see the module docstring for the concurrency rules."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.RLock()
        self._playback: asyncio.Task[None] | None = None
        self._init_data()

    def _init_data(self) -> None:
        # Every published or created post, by id, in publish order (dicts keep insertion order).
        self._index: dict[str, _Indexed] = {}
        self._rules: list[StoredRule] = []
        self._created: list[CreatedPost] = []
        self.streams: list[StreamConnection] = []
        self.faults: dict[str, deque[int]] = {group: deque() for group in ENDPOINT_GROUPS}
        self._hangs: deque[float] = deque()
        self.requests: dict[str, int] = dict.fromkeys(ENDPOINT_GROUPS, 0)
        self.stream_connections = 0
        self.stream_deliveries = 0
        self._windows: dict[str, _Window] = {}
        self._last_id = 0

    @property
    def posts(self) -> dict[str, dict[str, Any]]:
        """Every published post (the account's own included) as a stream message, by id, in
        publish order. A new dict each call; the messages are the sandbox's own: read only."""
        with self._lock:
            return {post_id: indexed.message for post_id, indexed in self._index.items()}

    @property
    def rules(self) -> list[dict[str, str]]:
        """The stream rules, ``{"id", "value", "tag"}`` each, oldest first. A copy."""
        return self.list_rules()

    # -- posts -------------------------------------------------------------------------------

    def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        """Make posts exist: searchable, and pushed to every connected stream they match.

        A post published while no stream is connected is never delivered by a stream later
        (no backfill on this tier), but recent search finds it.
        """
        _check_messages(messages)
        with self._lock:
            for message in messages:
                # A copy: the caller may reuse its dicts, the index must not change under it.
                stored = copy.deepcopy(
                    {"data": message["data"], "includes": message.get("includes") or {}}
                )
                indexed = _Indexed(stored, PostView.from_message(stored))
                self._index[indexed.view.id] = indexed
                self._last_id = max(self._last_id, int(indexed.view.id))
                self._deliver(indexed)

    def _deliver(self, indexed: _Indexed) -> None:
        if not self.streams:
            return
        matching = [
            {"id": rule.id, "tag": rule.tag}
            for rule in self._rules
            if rule.query.matches(indexed.view)
        ]
        if not matching:
            return
        line = (
            json.dumps({**indexed.message, "matching_rules": matching}, ensure_ascii=False) + "\r\n"
        ).encode()
        for connection in self.streams:
            connection.offer(line)
            self.stream_deliveries += 1

    def find_post(self, post_id: str) -> dict[str, Any] | None:
        """A published or created post as a message (``data`` and ``includes``), or None."""
        with self._lock:
            indexed = self._index.get(post_id)
            return indexed.message if indexed else None

    def created_posts(self) -> list[dict[str, Any]]:
        """The posts the account created, oldest first."""
        with self._lock:
            return [post.as_dict() for post in self._created]

    def search(
        self,
        query: Node,
        *,
        since_id: int | None = None,
        until_id: int | None = None,
        limit: int = 10,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Matching posts newest first (at most ``limit``), and whether more remain.

        Like X's keyword search today, it never returns retweets.
        """
        with self._lock:
            found = [
                indexed
                for indexed in self._index.values()
                if "retweeted" not in indexed.view.referenced_types
                and (since_id is None or int(indexed.view.id) > since_id)
                and (until_id is None or int(indexed.view.id) < until_id)
                and query.matches(indexed.view)
            ]
        found.sort(key=lambda indexed: int(indexed.view.id), reverse=True)
        return [indexed.message for indexed in found[:limit]], len(found) > limit

    def _next_id(self) -> str:
        # A snowflake for now, but always above every id seen: a reply is never "older" than
        # the post it answers, even when a recording is dated ahead of this machine's clock.
        snowflake = (int(time.time() * 1000) - _SNOWFLAKE_EPOCH_MS) << 22
        self._last_id = max(snowflake, self._last_id + 1)
        return str(self._last_id)

    def create_post(self, text: str, in_reply_to_tweet_id: str | None = None) -> CreatedPost:
        """Post as the account, with X's checks; raises ``XProblem`` when X would refuse.

        Checks: weighted length (twitter-text v3) at most 280; a reply only to a post whose
        author mentioned the account, or to the account's own post (the summoned-reply rule of
        2026-02); no text identical to an earlier post of the account.
        """
        if not text.strip():
            raise problems.invalid_request("The `text` field must not be empty.", {"text": [text]})
        weighted = int(parse_tweet(text).weightedLength)
        if weighted > MAX_WEIGHTED_LENGTH:
            raise problems.invalid_request(
                f"The text is too long: weighted length {weighted} exceeds {MAX_WEIGHTED_LENGTH}.",
                {"text": [f"weighted length {weighted}"]},
            )
        with self._lock:
            conversation_id: str | None = None
            in_reply_to_user_id: str | None = None
            if in_reply_to_tweet_id is not None:
                target = self._index.get(in_reply_to_tweet_id)
                if target is None:
                    raise problems.invalid_request(
                        "The post you are replying to does not exist or is not visible to you.",
                        {"reply.in_reply_to_tweet_id": [in_reply_to_tweet_id]},
                    )
                if not self._summoned(target.view):
                    raise problems.forbidden(problems.REPLY_NOT_ALLOWED)
                conversation_id = target.view.conversation_id or target.view.id
                in_reply_to_user_id = target.view.author_id
            if any(post.text == text for post in self._created):
                raise problems.forbidden(problems.DUPLICATE_CONTENT)
            post_id = self._next_id()
            post = CreatedPost(
                id=post_id,
                text=text,
                in_reply_to_tweet_id=in_reply_to_tweet_id,
                conversation_id=conversation_id or post_id,
                created_at=now_iso(),
            )
            self._created.append(post)
            data: dict[str, Any] = {
                "id": post.id,
                # As X delivers every text: with &, < and > HTML-escaped.
                "text": _x_escape(post.text),
                "author_id": self.config.account_id,
                "created_at": post.created_at,
                "conversation_id": post.conversation_id,
                "edit_history_tweet_ids": [post.id],
            }
            entities = _entities(text)
            if entities:
                data["entities"] = entities
            if in_reply_to_tweet_id is not None:
                data["in_reply_to_user_id"] = in_reply_to_user_id
                data["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to_tweet_id}]
            # The account's posts are posts like any other: searchable, and on the stream when
            # they match a rule (X delivers them too), so Tribune sees its own answers come back.
            self.publish([{"data": data, "includes": {"users": [self.account_user()]}}])
            return post

    def _summoned(self, target: PostView) -> bool:
        if target.author_id == self.config.account_id:
            return True  # a thread: replying to the account's own post
        if self.config.account_username.lower() in target.mentions:
            return True
        # Quoting one of the account's posts summons it as well.
        message = self._index[target.id].message
        for reference in message["data"].get("referenced_tweets") or []:
            quoted = self._index.get(str(reference.get("id")))
            if (
                reference.get("type") == "quoted"
                and quoted is not None
                and quoted.view.author_id == self.config.account_id
            ):
                return True
        return False

    def account_user(self) -> dict[str, str]:
        """The account as a v2 user object."""
        return {
            "id": self.config.account_id,
            "name": self.config.account_name,
            "username": self.config.account_username,
        }

    # -- rules -------------------------------------------------------------------------------

    def list_rules(self, ids: Iterable[str] | None = None) -> list[dict[str, str]]:
        """The current rules (optionally only those ids), oldest first."""
        wanted = set(ids) if ids is not None else None
        with self._lock:
            return [r.as_dict() for r in self._rules if wanted is None or r.id in wanted]

    def add_rules(self, specs: Sequence[dict[str, Any]], *, dry_run: bool) -> dict[str, Any]:
        """Validate and (unless ``dry_run``) add rules; the body X answers with."""
        created: list[StoredRule] = []
        errors: list[dict[str, Any]] = []
        with self._lock:
            values = {rule.value: rule for rule in self._rules}
            for spec in specs:
                value = spec.get("value")
                tag = spec.get("tag")
                if not isinstance(value, str):
                    value = "" if value is None else str(value)
                details = rule_errors(value)
                if details:
                    errors.append(
                        {
                            "value": value,
                            "details": details,
                            "title": "Invalid Rule",
                            "type": problems.INVALID_RULES,
                        }
                    )
                    continue
                existing = values.get(value)
                if existing is not None:
                    errors.append(
                        {
                            "value": value,
                            "id": existing.id,
                            "title": "DuplicateRule",
                            "type": problems.DUPLICATE_RULES,
                        }
                    )
                    continue
                if len(self._rules) + len(created) >= MAX_RULES:
                    errors.append(
                        {
                            "value": value,
                            "title": "RulesCapExceeded",
                            "detail": f"Rule cap of {MAX_RULES} rules reached.",
                            "type": problems.RULE_CAP,
                        }
                    )
                    continue
                rule = StoredRule(self._next_id(), value, str(tag or ""), parse_query(value))
                created.append(rule)
                values[value] = rule
            if not dry_run:
                self._rules.extend(created)
        body: dict[str, Any] = {}
        if created:
            body["data"] = [rule.as_dict() for rule in created]
        if errors:
            body["errors"] = errors
        body["meta"] = {
            "sent": now_iso(),
            "summary": {
                "created": len(created),
                "not_created": len(errors),
                "valid": len(created),
                "invalid": len(errors),
            },
        }
        return body

    def delete_rules(self, ids: Sequence[str], *, dry_run: bool) -> dict[str, Any]:
        """Delete rules by id (unless ``dry_run``); the body X answers with."""
        with self._lock:
            known = {rule.id for rule in self._rules}
            found = [rule_id for rule_id in ids if rule_id in known]
            missing = [rule_id for rule_id in ids if rule_id not in known]
            if not dry_run:
                gone = set(found)
                self._rules = [rule for rule in self._rules if rule.id not in gone]
        body: dict[str, Any] = {
            "meta": {
                "sent": now_iso(),
                "summary": {"deleted": len(found), "not_deleted": len(missing)},
            }
        }
        if missing:
            body["errors"] = [
                {
                    "value": rule_id,
                    "details": ["Rule does not exist"],
                    "title": "Invalid Rule",
                    "type": problems.INVALID_RULES,
                }
                for rule_id in missing
            ]
        return body

    # -- streams -----------------------------------------------------------------------------

    def open_stream(self) -> StreamConnection | None:
        """Register a connection on the running loop; None when one is already open (X: 1)."""
        with self._lock:
            if self.streams:
                return None
            connection = StreamConnection(asyncio.get_running_loop())
            self.streams.append(connection)
            self.stream_connections += 1
            return connection

    def close_stream(self, connection: StreamConnection) -> None:
        """Forget a connection (the client went away or the response ended)."""
        with self._lock:
            if connection in self.streams:
                self.streams.remove(connection)

    def disconnect_streams(self) -> None:
        """End every open stream now; they are forgotten at once, so a reconnect succeeds."""
        with self._lock:
            connections, self.streams = self.streams, []
        for connection in connections:
            connection.offer(None)

    # -- faults, counters, rate limits -------------------------------------------------------

    def inject(self, endpoint: str, statuses: list[int]) -> None:
        """The next ``len(statuses)`` requests to ``endpoint`` answer these HTTP statuses.

        A status below 400 lets that request through normally (to interleave failures).
        """
        if endpoint not in ENDPOINT_GROUPS:
            raise ValueError(f"unknown endpoint group {endpoint!r}; one of {ENDPOINT_GROUPS}")
        for status in statuses:
            if not 100 <= status <= 599:
                raise ValueError(f"not an HTTP status: {status}")
        with self._lock:
            self.faults[endpoint].extend(statuses)

    def accept_then_hang(self, seconds: float) -> None:
        """The next POST /2/tweets stores the post, then waits ``seconds`` before answering."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self._lock:
            self._hangs.append(seconds)

    def take_fault(self, endpoint: str) -> int | None:
        """The injected status for this request, if one is queued."""
        with self._lock:
            queue = self.faults[endpoint]
            return queue.popleft() if queue else None

    def take_hang(self) -> float | None:
        """The accept-then-hang delay for this POST /2/tweets, if one is queued."""
        with self._lock:
            return self._hangs.popleft() if self._hangs else None

    def count_request(self, endpoint: str) -> None:
        """Count one request to an endpoint group (whatever its outcome)."""
        with self._lock:
            self.requests[endpoint] += 1

    def _limit(self, endpoint: str) -> int:
        if endpoint == "search":
            return self.config.search_rate_limit
        if endpoint == "tweets":
            return self.config.tweets_rate_limit
        return _FIXED_LIMITS[endpoint]

    def rate_limit(self, endpoint: str) -> RateStatus:
        """Spend one request of the current window (it starts at the first request)."""
        now = time.time()
        window_seconds = self.config.rate_limit_window_seconds
        limit = self._limit(endpoint)
        with self._lock:
            window = self._windows.get(endpoint)
            if window is None or now >= window.start + window_seconds:
                window = self._windows[endpoint] = _Window(now, 0)
            reset = math.ceil(window.start + window_seconds)
            if window.used >= limit:
                return RateStatus(False, limit, 0, reset)
            window.used += 1
            return RateStatus(True, limit, limit - window.used, reset)

    def injected_rate_status(self, endpoint: str) -> RateStatus:
        """Headers for an injected 429: nothing left, back in one second."""
        return RateStatus(False, self._limit(endpoint), 0, int(time.time()) + 1)

    def stats(self) -> dict[str, Any]:
        """Counters, for tests and the operator page."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "stream_connections": self.stream_connections,
                "open_streams": len(self.streams),
                "stream_deliveries": self.stream_deliveries,
                "posts": len(self._index),
                "created_posts": len(self._created),
                "rules": len(self._rules),
                "pending_faults": {k: list(v) for k, v in self.faults.items() if v},
                "playing": self._playback is not None and not self._playback.done(),
            }

    # -- playback and reset ------------------------------------------------------------------

    async def play(self, messages: Sequence[dict[str, Any]], speed: float) -> None:
        """Publish ``messages`` paced by their ``data.created_at`` gaps (at most 10 s each)
        divided by ``speed``."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        previous: datetime | None = None
        for message in messages:
            moment = _parse_created_at(message)
            if previous is not None and moment is not None:
                gap = min(max((moment - previous).total_seconds(), 0.0), MAX_PLAYBACK_GAP_SECONDS)
                if gap > 0:
                    await asyncio.sleep(gap / speed)
            if moment is not None:
                previous = moment
            self.publish([message])

    def start_playback(self, messages: Sequence[dict[str, Any]], speed: float) -> None:
        """Play in a background task on the running loop, cancelling any earlier playback."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        # Checked now, so a bad message is a 400 for the caller, not a silent task failure.
        _check_messages(messages)
        self.stop_playback()
        self._playback = asyncio.get_running_loop().create_task(self.play(messages, speed))

    def stop_playback(self) -> None:
        """Cancel the background playback, if one is running."""
        task, self._playback = self._playback, None
        if task is not None and not task.done():
            # Task.cancel is not thread-safe: ask the task's own loop to do it (if still running).
            with contextlib.suppress(RuntimeError):
                task.get_loop().call_soon_threadsafe(task.cancel)

    def reset(self) -> None:
        """Back to empty: no posts, rules, streams, faults, counters or playback."""
        self.stop_playback()
        with self._lock:
            connections = self.streams
            self._init_data()
        for connection in connections:
            connection.offer(None)
