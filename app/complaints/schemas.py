from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.complaints.models import CaseStatus
from app.fields import never_null, reject_null
from app.publishing.spend import AnswerSpend
from app.questions.schemas import DeliveryOut


class FollowupOut(BaseModel):
    """A follow-up sent to the asker: as an X reply (with its deliveries) or copied by hand."""

    via: str  # "x_reply" or "copied"
    text: str
    by: str
    at: datetime
    deliveries: list[DeliveryOut] = []


class CaseOut(BaseModel):
    """A complaint as the desk shows it: the question's words and the case's handling."""

    question_id: int
    live_event_id: int
    # None until the case is first handled (see ComplaintCase).
    case_id: int | None
    text: str
    author_name: str
    author_handle: str
    source: str
    lang: str
    question_status: str
    # The question is a complaint (false once moved to the stage, until re-categorised).
    on_desk: bool
    received_at: datetime
    status: CaseStatus
    assignee: str | None
    notes: str
    # The SLA: the first response is due by then; overdue while unanswered past it.
    due_at: datetime
    overdue: bool
    first_response_at: datetime | None
    resolved_at: datetime | None
    moved_to_stage_at: datetime | None
    resolution: str
    # The asker can get the follow-up as an X reply (they mentioned the account, X is set up).
    can_reply: bool
    followups: list[FollowupOut]
    version: int


class CaseEdit(BaseModel):
    """Leave a field out to keep it; ``assignee`` null unassigns."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int | None = Field(None, ge=0)
    status: CaseStatus | None = Field(None, json_schema_extra=never_null)
    assignee: str | None = Field(None, max_length=64)
    notes: str | None = Field(None, max_length=4000, json_schema_extra=never_null)

    @field_validator("status", "notes")
    @classmethod
    def _not_null(cls, value: object) -> object:
        return reject_null(value)


class CaseAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=0)


class FollowupIn(BaseModel):
    """The follow-up as the moderator edited it. ``via``: "x_reply" sends it as a reply to
    the asker's post; "copied" records that it was copied and sent by hand elsewhere."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=2000)
    via: str = Field(pattern="^(x_reply|copied)$")
    version: int | None = Field(None, ge=0)
    # Send despite the soft problems found (never the hard ones).
    override: bool = False


class FollowupProblem(BaseModel):
    rule: str
    message: str
    # A hard problem blocks sending; a soft one only warns.
    hard: bool


class FollowupCheck(BaseModel):
    """What is wrong with a follow-up, and what it would cost as an X reply (None when it
    cannot be one): a URL makes a post cost many times more (X_API.md)."""

    problems: list[FollowupProblem]
    spend: AnswerSpend | None


class FollowupTemplate(BaseModel):
    """One of the charter's complaint follow-up templates, filled in for the asker."""

    name: str
    text: str


class FollowupProposal(FollowupCheck):
    """What the desk proposes: the charter's first complaint follow-up template filled in for
    this asker (the others too, to pick from), and how it can go."""

    text: str
    templates: list[FollowupTemplate]
    can_reply: bool
    # Why an X reply is not possible, when it is not: the moderator copies the text instead.
    reply_blocked_because: str


class FollowupCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=2000)


class DeskSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sla_minutes: int


class DeskSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # From a few minutes to a week: beyond that a "timer" means nothing.
    sla_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60, json_schema_extra=never_null)

    @field_validator("sla_minutes")
    @classmethod
    def _not_null(cls, value: object) -> object:
        return reject_null(value)


class DeskTotals(BaseModel):
    open_total: int = Field(description="Unresolved complaints in all, listed or not.")
    resolved_total: int = Field(description="Resolved complaints in all, listed or not.")


class DeskOut(DeskTotals):
    seq: int = Field(description="The LiveEvent's seq this reflects: resume sockets here.")
    settings: DeskSettingsOut
    cases: list[CaseOut] = Field(
        description="The unresolved complaints due first (all of them, unless a flood leaves "
        "thousands unanswered) and the last resolved ones, oldest first. The CSV export has "
        "every complaint."
    )
