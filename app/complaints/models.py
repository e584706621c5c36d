import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class CaseStatus(enum.StrEnum):
    open = "open"
    in_progress = "in_progress"
    # We asked the customer something (their reference, by DM): the ball is in their court.
    waiting_customer = "waiting_customer"
    resolved = "resolved"


class ComplaintCase(Base):
    """The desk's handling of one complaint.

    A complaint question has a case from its first handling on (an assignment, a status, a
    note, a follow-up); until then the desk shows it as open and unassigned, so whatever set
    the category (a moderator, triage) puts it on the desk without knowing of cases.
    """

    __tablename__ = "complaint_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), unique=True
    )
    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[CaseStatus] = mapped_column(
        Enum(CaseStatus, native_enum=False, length=20), default=CaseStatus.open
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")
    # The SLA clock stops at the first response: the customer has heard from us.
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moved_to_stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the case closed, in words ("moved to the stage by alice"), for customer service.
    resolution: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped by every change, so a desk screen acting on an old view gets a 409, not a silent
    # overwrite (changes are serialised by the LiveEvent's row lock, as questions' are).
    version: Mapped[int] = mapped_column(Integer, default=1)


class CaseChange(Base):
    """One change of a case: who, when, what, from what to what. Nothing is deleted."""

    __tablename__ = "complaint_case_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("complaint_cases.id", ondelete="CASCADE"), index=True
    )
    # "status", "assignee", "notes", "followup_reply", "followup_copied", "move_to_stage"
    action: Mapped[str] = mapped_column(String(30))
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    # A follow-up sent as an X reply: its private answer, whose deliveries say how it went.
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# A LiveEvent without desk settings uses this.
DEFAULT_SLA_MINUTES = 30


class DeskSettings(Base):
    """A LiveEvent's desk: its SLA (one row, or the default). The follow-up's templates and
    signature are the editorial charter's (charter.service.templates, complaint_followup)."""

    __tablename__ = "complaint_desk_settings"

    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), primary_key=True
    )
    # Minutes from a complaint's arrival to our first response.
    sla_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_SLA_MINUTES)
