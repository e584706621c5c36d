from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

# Posts read from X itself (stream or search) are stored under this source name.
X_SOURCE = "x"


class Post(Base):
    """What a network gave us, normalised once (entities unescaped, full text, author joined)."""

    __tablename__ = "posts"
    # Dedup rests on this constraint: the same post delivered twice is stored once.
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(20))
    # Network ids are strings (X ids overflow a double); keep them strings.
    external_id: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[str] = mapped_column(String(64))
    author_handle: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(120))
    author_avatar_url: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(12), default="")
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Whether the author mentioned the answering account: it decides if X lets us reply.
    mentions_answering_account: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)


class IngestSource(Base):
    """One configured source connection of a LiveEvent, with its stored cursor.

    The cursor lets ingestion resume after a restart without a gap (dedup absorbs overlap).
    """

    __tablename__ = "ingest_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="idle")
    status_detail: Mapped[str] = mapped_column(Text, default="")
    # Bumped by every restart asked for: the worker running the source restarts it on seeing
    # a newer generation, whichever worker took the request.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    # The worker running it (host:pid), shown to the operator.
    worker: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
