from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    # ``raw``'s JSON text as it arrived (a stream line), when the source has it: stored as it
    # is rather than encoded again (db.EncodedJSON). Empty when the source has no such text.
    raw_json: str = ""


class IngestResult(BaseModel):
    received: int
    stored: int
    questions: int
    duplicates: int


class XSourceIn(BaseModel):
    """How an operator asks for an X source: the stream, or search polling as a fallback."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["x-stream", "x-search"] = "x-stream"
    require_mention: bool = False
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = []
    no_retweets: bool = True
    # x-search only: the shortest pause between two polls (the rate limit may ask for more).
    min_interval_seconds: float = Field(5.0, ge=0.05, le=3600)


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    enabled: bool
    status: str
    status_detail: str
    cursor: str
    # The worker running it (host:pid): with several workers, exactly one does.
    worker: str
    rule: str | None = None
