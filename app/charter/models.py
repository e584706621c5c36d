from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Charter(Base):
    """A LiveEvent's editorial charter. The rules are one validated document (schemas.CharterIn)
    rather than a table per rule: they are always read and written whole, and a new rule needs
    no migration. A LiveEvent without a row has the default charter."""

    __tablename__ = "charters"

    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), primary_key=True
    )
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class CharterOverride(Base):
    """An answer published although it broke a hard rule of the charter: who decided it, when,
    which rules, why, and what was said. Nothing is deleted; the names are copied, so the
    record survives the deletion of the user or the answer."""

    __tablename__ = "charter_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The rule ids broken (["forbidden_word", "signature"]) and the violations in full.
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    violations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    networks: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)
    answer_text: Mapped[str] = mapped_column(Text)
