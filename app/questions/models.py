import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.questions.states import Status


class Origin(enum.StrEnum):
    post = "post"
    audience = "audience"


class Category(enum.StrEnum):
    question = "question"
    complaint = "complaint"
    rumour = "rumour"
    praise = "praise"
    spam = "spam"
    duplicate = "duplicate"
    other = "other"


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), index=True
    )
    origin: Mapped[Origin] = mapped_column(Enum(Origin, native_enum=False, length=20))
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), unique=True
    )
    # "x", "replay" or "audience": where the asker is, so the screens can say it.
    source: Mapped[str] = mapped_column(String(20))
    author_name: Mapped[str] = mapped_column(String(120), default="")
    author_handle: Mapped[str] = mapped_column(String(64), default="")
    lang: Mapped[str] = mapped_column(String(12), default="")
    # The asker's post on X summoned the answering account (mentioned it): only then does X
    # let the account reply to it (X_API.md). Fixed at ingest.
    x_reply_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    x_post_id: Mapped[str] = mapped_column(String(64), default="")
    x_conversation_id: Mapped[str] = mapped_column(String(64), default="")
    original_text: Mapped[str] = mapped_column(Text)
    # What the screens show: the original, or the moderator's edit of it.
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[Status] = mapped_column(
        Enum(Status, native_enum=False, length=20), default=Status.pending, index=True
    )
    category: Mapped[Category | None] = mapped_column(Enum(Category, native_enum=False, length=20))
    # Order of the approved queue (lower first). A float, so a move writes one row.
    queue_position: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Username of whoever made the last transition, so a screen can say "approved by alice".
    status_changed_by: Mapped[str] = mapped_column(String(64), default="")
    # Optimistic concurrency: two moderators acting at once cannot both write (see service).
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own API


class Transition(Base):
    """One status change of a question: who, when, from what to what. Nothing is deleted."""

    __tablename__ = "question_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False, length=20))
    to_status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False, length=20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when an undo reverted this transition, so the next undo goes one step further back.
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    # For a merge or an unmerge: the question that absorbed this one (or released it), so the
    # trail says into what, even once the question is unmerged.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="SET NULL"), index=True
    )


class Answer(Base):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A private follow-up to the asker (the complaints desk's "send us your reference"): it
    # goes out through the same outbox, but is never shown as the question's answer.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    question: Mapped[Question] = relationship(lazy="raise")
