from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class NormalisedPost(BaseModel):
    """A post as every source hands it over: text unescaped once, full text, author joined."""

    model_config = ConfigDict(frozen=True)

    source: str
    external_id: str
    author_id: str
    author_handle: str
    author_name: str
    author_avatar_url: str
    text: str
    lang: str
    posted_at: datetime
    # Retweets are stored (they count as interest) but never become questions.
    is_retweet: bool
    mentions: tuple[str, ...]
    raw: dict[str, Any]


class IngestResult(BaseModel):
    received: int
    stored: int
    questions: int
    duplicates: int
