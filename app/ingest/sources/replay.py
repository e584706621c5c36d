"""Replay: plays a recorded chat at a chosen speed, one JSON object a line: X API v2
filtered-stream messages, or Mastodon statuses (their HTML content read as text).

It exercises the same parsing and storage path as a live stream, with no network: the demo,
rehearsals and tests run on it.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from app.errors import Invalid
from app.ingest.base import Batch, Source
from app.ingest.mastodonpayload import is_status, parse_status
from app.ingest.schemas import NormalisedPost
from app.ingest.xpayload import PayloadError, load_json, parse_stream_message

log = logging.getLogger(__name__)

# Posts closer together than this (after speed-up) are written in one batch: one transaction
# instead of many when a recording is played fast.
BATCH_WINDOW_SECONDS = 0.05
# And never more than this many posts in one transaction, however fast the replay.
MAX_BATCH = 200
# A recording's long pauses are capped, so a demo never looks frozen.
MAX_GAP_SECONDS = 10.0


class ReplayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    speed: float = Field(1.0, gt=0, le=10_000)
    # Stored posts carry this source name; "replay" keeps rehearsal data apart from X's.
    source_name: str = "replay"


class RecordingError(Invalid):
    """The recording file cannot be read: a configuration problem, not worth retrying."""


def read_recording(path: Path, source_name: str) -> Iterator[tuple[int, NormalisedPost]]:
    """(line number, post) for each post line of a recording; bad lines are logged, skipped."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue  # the stream's keep-alive is a bare line
            try:
                message: Any = load_json(line)
                if not isinstance(message, dict):
                    raise PayloadError("not a JSON object")
                if is_status(message):
                    yield number, parse_status(message, source_name)
                else:
                    # The line is the message's JSON: the post keeps it as its payload's text.
                    yield number, parse_stream_message(message, source_name, line.strip())
            except (json.JSONDecodeError, PayloadError) as exc:
                log.warning("%s:%d skipped: %s", path.name, number, exc)


class ReplaySource(Source):
    slug: ClassVar[str] = "replay"
    title: ClassVar[str] = "Recorded chat (replay)"
    config_model: ClassVar[type[BaseModel]] = ReplayConfig

    def __init__(self, config: ReplayConfig) -> None:
        self.config = config

    def count(self) -> int:
        return sum(1 for _ in read_recording(Path(self.config.path), self.config.source_name))

    async def batches(self, cursor: str) -> AsyncIterator[Batch]:
        """Posts in recorded order, paced by their created_at divided by speed.

        The cursor is the last line number played, so a restarted replay carries on.
        """
        start_line = int(cursor) if cursor.isdigit() else 0
        speed = self.config.speed
        pending: list[NormalisedPost] = []
        previous_time = None
        last_line = start_line
        for number, post in read_recording(Path(self.config.path), self.config.source_name):
            if number <= start_line:
                continue
            delay = 0.0
            if previous_time is not None:
                gap = (post.posted_at - previous_time).total_seconds()
                delay = min(max(gap, 0.0), MAX_GAP_SECONDS) / speed
            previous_time = post.posted_at
            if pending and (delay >= BATCH_WINDOW_SECONDS or len(pending) >= MAX_BATCH):
                yield Batch(posts=pending, cursor=str(last_line))
                pending = []
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(post)
            last_line = number
        if pending:
            yield Batch(posts=pending, cursor=str(last_line))
