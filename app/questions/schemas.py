from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from app.charter.schemas import OverrideIn
from app.db import MAX_ID
from app.fields import never_null, reject_null
from app.ingest.xpayload import clean_text
from app.publishing.models import DeliveryStatus, XMode
from app.questions.models import Category, CategorySource, Origin
from app.questions.states import Status


def _clean(value: object) -> object:
    return clean_text(value).strip() if isinstance(value, str) else value


# The audience form's limit; a network post may be longer (X's long posts).
AUDIENCE_TEXT_MAX = 500


@dataclass(frozen=True, slots=True)
class NewQuestion:
    """A question to create (from a post or the audience form), before it has an id.

    A plain dataclass, not a validated model: it is built by Tribune's own code from values
    already checked (a normalised post, a validated form), thousands a second during ingest.
    """

    origin: Origin
    source: str
    text: str
    author_name: str = ""
    author_handle: str = ""
    lang: str = ""
    post_id: int | None = None
    x_post_id: str = ""
    x_conversation_id: str = ""
    x_reply_allowed: bool = False


class AudienceQuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: Annotated[str, BeforeValidator(_clean)] = Field(
        min_length=1, max_length=AUDIENCE_TEXT_MAX
    )
    author_name: Annotated[str | None, BeforeValidator(_clean)] = Field(None, max_length=80)


class ActionIn(BaseModel):
    """Optional body of a moderation action: the version the moderator was looking at.

    With it, acting on a question someone else changed meanwhile is a 409 instead of a silent
    overwrite of their decision.
    """

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1)


class QuestionEdit(ActionIn):
    """Leave a field out to keep it. Only the category can be cleared (null): text, note and
    queue position always have a value, so a null for them is refused, never stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str | None = Field(None, min_length=1, max_length=4000, json_schema_extra=never_null)
    note: str | None = Field(None, max_length=2000, json_schema_extra=never_null)
    category: Category | None = None
    queue_position: float | None = Field(None, json_schema_extra=never_null)

    @field_validator("text", "note", "queue_position")
    @classmethod
    def _not_null(cls, value: object) -> object:
        return reject_null(value)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=10_000)
    # How the answer reaches X: a reply (only if the asker summoned the account), a standalone
    # post, or the page only. Default: a reply when allowed, else the LiveEvent's fallback.
    x_mode: XMode | None = None
    # Reply on X to each asker merged into the question whose post summoned the account
    # (whatever x_mode says of the question's own asker). Needs X posting credentials.
    reply_to_askers: bool = True


# How many questions one merge may absorb: a console selection, not a bulk job.
MERGE_MAX = 100


class MergeIn(ActionIn):
    """The questions to absorb into this one, and optionally the version of each the moderator
    was looking at (``versions[i]`` for ``ids[i]``); ``version`` is this question's."""

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=MERGE_MAX)
    versions: list[Annotated[int, Field(ge=1)]] | None = None

    @model_validator(mode="after")
    def _aligned(self) -> "MergeIn":
        if self.versions is not None and len(self.versions) != len(self.ids):
            raise ValueError("versions, when given, has one version per id")
        return self


class AnswerPublish(AnswerIn):
    # Publish although the answer breaks a hard rule of the charter (moderators only; audited).
    override: OverrideIn | None = None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    # The question whose asker this thread answers: the answer's own, or one merged into it.
    question_id: int
    target: str
    part: int
    parts: int
    status: DeliveryStatus
    url: str
    # Why a delivery failed or waits ("X refused the reply: ..."), for the moderator.
    error: str = Field("", validation_alias="last_error")


class AnswerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    text: str
    author_name: str
    created_at: datetime
    deliveries: list[DeliveryOut] = []


class PublicQuestion(BaseModel):
    """What the audience may see of a question: never a note, never who moderated it."""

    id: int
    text: str
    author_name: str
    author_handle: str
    source: str
    status: Status
    created_at: datetime
    status_changed_at: datetime
    answer: AnswerOut | None
    # How many people asked it: its author and the askers of the questions merged into it.
    asked_by: int = 1


class AskerOut(BaseModel):
    """Someone whose question was merged into another: who, where, what they wrote."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    author_name: str
    author_handle: str
    source: str
    text: str
    created_at: datetime
    # Their post summoned the account, so X lets the answer reply to them.
    x_reply_allowed: bool
    version: int


class QuestionOut(PublicQuestion):
    live_event_id: int
    origin: Origin
    original_text: str
    lang: str
    category: Category | None
    queue_position: float
    note: str
    merged_into_id: int | None
    status_changed_by: str
    version: int
    # The ways X allows to answer this question ("reply" only when the asker summoned us).
    x_options: list[XMode]
    # The questions merged into this one (oldest first); one answer serves them all.
    # A factory, not a [] default: pydantic deep-copies a mutable default for every instance,
    # which ingest's thousands of new questions a second paid for.
    askers: list[AskerOut] = Field(default_factory=list)
    # Triage (app/triage/stage.py): null until the stage has seen the question.
    triage_confidence: float | None = None
    triaged_at: datetime | None = None
    category_source: CategorySource | None = None
    triage_group_id: int | None = None
    triage_reason: str = ""


class QuestionFilters(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    category: Category | None = None
    lang: str | None = Field(None, max_length=12)
    source: str | None = Field(None, max_length=20)
    q: str | None = Field(None, max_length=200, description="Text search, case-insensitive.")


class QuestionCounts(BaseModel):
    seq: int
    status: dict[str, int]
    category: dict[str, int]
    # Triage's duplicate groups of two or more (not archived): group id → questions in it.
    groups: dict[str, int] = {}


class QuestionFacets(BaseModel):
    languages: list[str]
    sources: list[str]


class QuestionPage(BaseModel):
    seq: int = Field(description="The LiveEvent's seq this page reflects: resume sockets here.")
    items: list[QuestionOut]
    next_offset: int | None


class PublicSnapshot(BaseModel):
    seq: int
    on_air: PublicQuestion | None
    answered: list[PublicQuestion]


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    # A question's history includes the merges into it: those are another question's moves.
    question_id: int
    action: str
    from_status: Status
    to_status: Status
    actor_id: int | None
    at: datetime
    undone: bool
    merged_into_id: int | None = None
    # Who acted by name ("triage" for the triage stage's rules), and a rule's reason.
    by: str = ""
    reason: str = ""
