"""Reading from X: recent search by X's paging rules, stream rules, and rate-limit headers.

The calls are tweepy's (sync, through the session pointed by client.py); callers run them in a
thread. Payloads are parsed by app.ingest.xpayload, the same pure parser as the stream.
"""

import time
from dataclasses import dataclass
from typing import Any

import requests
import tweepy

from app.ingest.schemas import NormalisedPost
from app.ingest.xpayload import PayloadError, parse_post
from app.x.client import point_session

# What we ask X to include with every post: the author (joined from includes.users), the long
# text of long posts, the language, and what a post refers to (retweets are never questions).
TWEET_FIELDS = [
    "author_id",
    "conversation_id",
    "created_at",
    "entities",
    "lang",
    "note_tweet",
    "referenced_tweets",
    "in_reply_to_user_id",
]
USER_FIELDS = ["name", "username", "profile_image_url"]
EXPANSIONS = ["author_id"]
# Recent search returns at most 100 posts a page.
SEARCH_PAGE_SIZE = 100


@dataclass(frozen=True)
class RateLimit:
    """X's x-rate-limit-* headers: requests left in the window and when it resets."""

    limit: int | None
    remaining: int | None
    reset_at: float | None

    @classmethod
    def from_headers(cls, headers: Any) -> "RateLimit":
        def number(name: str) -> int | None:
            value = headers.get(name) if headers is not None else None
            return int(value) if value is not None and str(value).isdigit() else None

        reset = number("x-rate-limit-reset")
        return cls(
            number("x-rate-limit-limit"),
            number("x-rate-limit-remaining"),
            float(reset) if reset is not None else None,
        )

    def seconds_until_reset(self, now: float | None = None) -> float:
        if self.reset_at is None:
            return 0.0
        return max(0.0, self.reset_at - (now if now is not None else time.time()))


@dataclass(frozen=True)
class SearchResult:
    posts: list[NormalisedPost]  # oldest first
    newest_id: str | None
    rate: RateLimit
    requests: int


def search_since(
    client: tweepy.Client, query: str, since_id: str | None, source: str
) -> SearchResult:
    """Every post matching ``query`` after ``since_id``, by X's paging rules.

    ``since_id`` stays fixed while paging with ``next_token``; the first page's ``newest_id``
    is the next ``since_id`` (X_API.md). Results come newest first; they are returned oldest
    first, the order the stream would have given them.
    """
    params: dict[str, Any] = {
        "max_results": SEARCH_PAGE_SIZE,
        "expansions": EXPANSIONS,
        "tweet_fields": TWEET_FIELDS,
        "user_fields": USER_FIELDS,
    }
    if since_id:
        params["since_id"] = since_id
    posts: list[NormalisedPost] = []
    newest_id: str | None = None
    rate = RateLimit(None, None, None)
    token: str | None = None
    pages = 0
    while True:
        response: requests.Response = client.search_recent_tweets(
            query, **params, **({"next_token": token} if token else {})
        )
        pages += 1
        rate = RateLimit.from_headers(response.headers)
        body = response.json()
        meta = body.get("meta") or {}
        if pages == 1:
            newest_id = meta.get("newest_id")
        includes = body.get("includes") or {}
        for data in body.get("data") or []:
            try:
                posts.append(parse_post(data, includes, source))
            except PayloadError:
                continue  # one malformed post must not cost the others
        token = meta.get("next_token")
        if not token:
            break
    posts.sort(key=lambda p: int(p.external_id) if p.external_id.isdigit() else 0)
    return SearchResult(posts, newest_id or since_id, rate, pages)


def newest(a: str | None, b: str | None) -> str | None:
    """The later of two X ids (ids are strings; compare them as numbers)."""
    if not a:
        return b
    if not b:
        return a
    return a if int(a) >= int(b) else b


def validate_rule(bearer_token: str, base_url: str, rule: str, tag: str) -> list[str]:
    """Ask X to check a stream rule without adding it (dry_run); the problems, or []."""
    client = tweepy.StreamingClient(bearer_token, wait_on_rate_limit=False)
    point_session(client.session, base_url)
    response = client.add_rules(tweepy.StreamRule(rule, tag=tag), dry_run=True)
    problems = []
    for error in response.errors or []:
        details = error.get("details") or [error.get("title", "invalid rule")]
        problems.append("; ".join(str(d) for d in details))
    return problems


def whoami(client: tweepy.Client) -> dict[str, Any]:
    """GET /2/users/me with user context: the account Tribune would post as."""
    response: requests.Response = client.get_me(user_auth=client.consumer_key is not None)
    data: dict[str, Any] = response.json().get("data") or {}
    return data
