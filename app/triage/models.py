from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class TriageRules(Base):
    """A LiveEvent's spam and moderation rules, applied by the triage stage to each new question
    while it is still pending. One row per LiveEvent, made at its first edit; without one, the
    defaults apply (the profanity list and model spam on, no list)."""

    __tablename__ = "triage_rules"

    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), primary_key=True
    )
    # Words or phrases, as typed; matched as whole words, without case or accents ("arnaque"
    # catches "ARNAQUÉ", not "arnaques"); a trailing '*' makes a prefix ("arnaq*").
    blocked_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    # X handles without the '@', as typed; matched without case.
    blocked_accounts: Mapped[list[str]] = mapped_column(JSON, default=list)
    auto_approve_accounts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The default multilingual profanity list (app/triage/data/profanity.txt).
    profanity: Mapped[bool] = mapped_column(Boolean, default=True)
    # Reject what the model calls spam with high confidence, and link spam.
    reject_spam: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TriageCorrection(Base):
    """A moderator changed a question's category: what triage had said, and what is right.
    Kept as evaluation data (GET /api/v1/events/{slug}/triage/corrections.jsonl)."""

    __tablename__ = "triage_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), index=True
    )
    # The post as triage read it (the original, not a moderator's edit).
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(12), default="")
    # Triage's verdict (null: the question was not triaged yet) and its confidence.
    predicted: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[float | None] = mapped_column(Float)
    # The moderator's category (null: cleared).
    corrected: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
