import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy import text as sql
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


class CategorySource(enum.StrEnum):
    """Who set a question's category: the triage stage's model, or a moderator."""

    triage = "triage"
    moderator = "moderator"


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by ix_questions_queue, which starts with it.
    live_event_id: Mapped[int] = mapped_column(ForeignKey("live_events.id", ondelete="CASCADE"))
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
        Enum(Status, native_enum=False, length=20), default=Status.pending
    )
    category: Mapped[Category | None] = mapped_column(Enum(Category, native_enum=False, length=20))
    # Order of the approved queue (lower first). A float, so a move writes one row.
    queue_position: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")
    # Indexed (ix_questions_merged): every view of a question looks up the askers merged into it.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Username of whoever made the last transition, so a screen can say "approved by alice".
    status_changed_by: Mapped[str] = mapped_column(String(64), default="")
    # Optimistic concurrency: two moderators acting at once cannot both write (see service).
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Triage (app/triage/stage.py) fills these after the question is stored, outside ingest's
    # transaction; null until then. The confidence is the model's, for a category it set.
    triage_confidence: Mapped[float | None] = mapped_column(Float)
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    category_source: Mapped[CategorySource | None] = mapped_column(
        Enum(CategorySource, native_enum=False, length=20)
    )
    # The duplicate group triage suggests: the id of the group's first question (that one
    # included), null when the question is like no other. A moderator accepts it by merging.
    triage_group_id: Mapped[int | None] = mapped_column(Integer)
    # What triage's rules did and why ("blocked word: …", "listed account @…"), for the console.
    triage_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own API
    __table_args__ = (
        # A LiveEvent's questions of one status in id order: every list (the pending queue
        # is read a page at a time, oldest first, through tens of thousands in a flood) and
        # every count. With the category, the rumours listed first are found without reading
        # the other pending questions.
        Index("ix_questions_queue", "live_event_id", "status", "id"),
        Index("ix_questions_queue_category", "live_event_id", "status", "category", "id"),
        # Merged questions only: ingest's new ones are not, and pay nothing for it.
        Index(
            "ix_questions_merged",
            "merged_into_id",
            sqlite_where=sql("merged_into_id IS NOT NULL"),
            postgresql_where=sql("merged_into_id IS NOT NULL"),
        ),
        # The console's duplicate counts: grouped questions only (ingest's never are, so it
        # costs ingest nothing).
        Index(
            "ix_questions_groups",
            "live_event_id",
            "triage_group_id",
            sqlite_where=sql("triage_group_id IS NOT NULL"),
            postgresql_where=sql("triage_group_id IS NOT NULL"),
        ),
        # The triage stage's queue: only untriaged questions are in it, so it stays small.
        Index(
            "ix_questions_untriaged",
            "id",
            sqlite_where=sql("triaged_at IS NULL"),
            postgresql_where=sql("triaged_at IS NULL"),
        ),
    )


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
    # Who acted by name: the user's, or the rule's ("triage") when no person did (actor_id is
    # then null), with the rule's reason.
    by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")


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
