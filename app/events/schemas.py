import re
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from app.accounts.models import Role
from app.events.models import LiveEventState
from app.fields import never_null, reject_null

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
HASHTAG_RE = re.compile(r"^\w{1,100}$")
HANDLE_RE = re.compile(r"^\w{1,15}$")


def _slug(value: str) -> str:
    if not SLUG_RE.fullmatch(value):
        raise ValueError("lowercase letters, digits and '-', 1 to 64 characters")
    return value


def _hashtag(value: str) -> str:
    value = value.strip().removeprefix("#")
    if not HASHTAG_RE.fullmatch(value):
        raise ValueError("a hashtag is letters, digits or '_' (the '#' is optional)")
    return value


def _handle(value: str) -> str:
    value = value.strip().removeprefix("@")
    if value and not HANDLE_RE.fullmatch(value):
        raise ValueError("an X handle is 1 to 15 letters, digits or '_'")
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2026-12-03T18:00:00Z)")
    return value


ORIGIN_RE = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")


def _origin(value: str) -> str:
    value = value.strip().rstrip("/").lower()
    if not ORIGIN_RE.fullmatch(value):
        raise ValueError("an origin is scheme://host[:port], e.g. https://www.bank.example")
    return value


Origin = Annotated[str, AfterValidator(_origin)]
Slug = Annotated[str, AfterValidator(_slug)]
Hashtag = Annotated[str, AfterValidator(_hashtag)]
Handle = Annotated[str, AfterValidator(_handle)]
AwareDatetime = Annotated[datetime | None, AfterValidator(_aware)]


class LiveEventFields(BaseModel):
    """Leave a field out to keep it. The times and the stream URL can be cleared (null); the
    other fields always have a value (an empty string or list where there is none), so null
    is refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(None, min_length=1, max_length=200, json_schema_extra=never_null)
    description: str | None = Field(None, max_length=5000, json_schema_extra=never_null)
    hashtags: list[Hashtag] | None = Field(
        None, min_length=1, max_length=10, json_schema_extra=never_null
    )
    answering_handle: Handle | None = Field(None, json_schema_extra=never_null)
    spokesperson: str | None = Field(None, max_length=120, json_schema_extra=never_null)
    starts_at: AwareDatetime = None
    ends_at: AwareDatetime = None
    # HTTPS only: the page is served over HTTPS inside the brand's site.
    stream_url: HttpUrl | None = None
    # Who may frame the audience page: exact origins (scheme://host[:port]). Empty: any HTTPS.
    embed_origins: list[Origin] | None = Field(None, max_length=20, json_schema_extra=never_null)

    @field_validator(
        "title",
        "description",
        "hashtags",
        "answering_handle",
        "spokesperson",
        "embed_origins",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        return reject_null(value)

    @model_validator(mode="after")
    def _check(self) -> "LiveEventFields":
        if self.stream_url is not None and self.stream_url.scheme != "https":
            raise ValueError("stream_url must be an https:// URL")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class LiveEventCreate(LiveEventFields):
    slug: Slug
    title: str = Field(min_length=1, max_length=200)
    # One hashtag is the common case; both spellings are accepted.
    hashtag: Hashtag | None = None

    @model_validator(mode="after")
    def _merge_hashtag(self) -> "LiveEventCreate":
        tags = list(self.hashtags or [])
        if self.hashtag and self.hashtag not in tags:
            tags.insert(0, self.hashtag)
        if not tags:
            raise ValueError("give at least one hashtag (hashtag or hashtags)")
        self.hashtags = tags
        return self


class LiveEventUpdate(LiveEventFields):
    state: LiveEventState | None = None


class LiveEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    title: str
    description: str
    hashtags: list[str]
    answering_handle: str
    spokesperson: str
    starts_at: datetime | None
    ends_at: datetime | None
    stream_url: str
    embed_origins: list[str]
    state: LiveEventState
    last_seq: int


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # moderator or spokesperson; omitted: the user's account role.
    role: Role | None = None


class TeamMemberOut(BaseModel):
    username: str
    display_name: str
    role: Role
    is_active: bool
