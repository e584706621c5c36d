import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    # Claimed and about to be sent (committed before the request leaves): if the worker dies
    # now, nobody knows whether X took it, so it is reconciled, never blindly re-sent.
    sending = "sending"
    published = "published"
    failed = "failed"
    # Sent, but we do not know whether the network took it: reconcile before any retry.
    unknown = "unknown"


class XMode(enum.StrEnum):
    """How an answer reaches X (the moderator picks per question, among what X allows)."""

    # A reply to the asker's post: only when the asker summoned the answering account.
    reply = "reply"
    # A standalone post that names the asker and recalls the question.
    standalone = "standalone"
    # Not on X at all: the Tribune page only.
    page = "page"


class Delivery(Base):
    """One publication of one part of an answer to one target, with its outcome.

    A long answer on X is a thread: part 1 replies to the question (or stands alone), part n
    replies to part n-1, so part n is due only once part n-1 is published. An answer to merged
    questions has one such thread per asker replied to (``question_id``).
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("answer_id", "target", "question_id", "part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    # Whose question this thread answers: the answer's own, or one merged into it (its asker
    # gets a reply of their own). Fixes the conversation a lost outcome is looked for in.
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(String(20))
    part: Mapped[int] = mapped_column(Integer, default=1)
    parts: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text, default="")
    # The post part 1 replies to ("" for a standalone post); later parts reply to the previous.
    reply_to: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=20), default=DeliveryStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    external_id: Mapped[str] = mapped_column(String(64), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Attempt(Base):
    """Every try at a delivery, kept: what was done, when, and how it ended."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))  # "send" or "reconcile"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
