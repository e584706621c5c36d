"""x-search: polling X's recent search, by X's rules, at the pace the rate limit allows.

since_id stays fixed while paging; the first page's newest_id becomes the stored cursor, so a
restart resumes where the last committed batch ended.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import ClassVar

import tweepy
from pydantic import BaseModel, ConfigDict, Field

from app.ingest.base import Batch, Source
from app.ingest.sources.x_common import Backoff, SourceStopped, XContext
from app.x.client import make_search_client
from app.x.reading import SearchResult, search_since

log = logging.getLogger(__name__)


class XSearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1024)
    # Never poll faster than this, whatever the rate limit would allow.
    min_interval_seconds: float = Field(5.0, ge=0.01)
    source_name: str = "x"


def next_interval(result: SearchResult, minimum: float) -> float:
    """Spread the requests left in the window over the time left, never below ``minimum``."""
    rate = result.rate
    if rate.remaining is None or rate.reset_at is None:
        return minimum
    left = rate.seconds_until_reset()
    if rate.remaining <= 0:
        return max(minimum, left)
    return max(minimum, left / rate.remaining)


class XSearchSource(Source):
    slug: ClassVar[str] = "x-search"
    title: ClassVar[str] = "X recent search (polling)"
    config_model: ClassVar[type[BaseModel]] = XSearchConfig

    def __init__(self, config: XSearchConfig, context: XContext) -> None:
        if context.credentials.bearer_token is None:
            raise SourceStopped("X search needs TRIBUNE_X_BEARER_TOKEN")
        self.config = config
        self.context = context
        self.backoff = Backoff(scale=context.backoff_scale)

    async def batches(self, cursor: str) -> AsyncIterator[Batch]:
        client = make_search_client(self.context.credentials, self.context.base_url)
        since_id: str | None = cursor or None
        minimum = self.config.min_interval_seconds
        while True:
            try:
                result = await asyncio.to_thread(
                    search_since, client, self.config.query, since_id, self.config.source_name
                )
            except tweepy.Unauthorized as exc:
                raise SourceStopped(
                    "X refused the credentials (HTTP 401): check TRIBUNE_X_BEARER_TOKEN"
                ) from exc
            except tweepy.Forbidden as exc:
                raise SourceStopped(f"X forbade recent search (HTTP 403): {exc}") from exc
            except tweepy.BadRequest as exc:
                raise SourceStopped(f"X refused the query {self.config.query!r}: {exc}") from exc
            except tweepy.TooManyRequests as exc:
                # X says when the window resets; without that, X's 429 backoff.
                if exc.reset_time:
                    wait = max(minimum, exc.reset_time - time.time())
                else:
                    wait = self.backoff.http_error(429)
                await self.report("waiting", f"rate limited; polling again in {wait:.0f} s")
                await asyncio.sleep(wait)
                continue
            except (tweepy.TwitterServerError, OSError) as exc:
                wait = self.backoff.http_error(500)
                await self.report("retrying", f"{type(exc).__name__}; again in {wait:.0f} s")
                await asyncio.sleep(wait)
                continue
            self.backoff.reset()
            await self.report(
                "polling",
                f"{result.requests} request(s), {result.rate.remaining} left in the window",
            )
            if result.posts:
                since_id = result.newest_id
                yield Batch(posts=result.posts, cursor=since_id or "")
            await asyncio.sleep(next_interval(result, minimum))
