import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import Role
from app.db import Base, UTCDateTime, utcnow


class LiveEventState(enum.StrEnum):
    scheduled = "scheduled"
    live = "live"
    ended = "ended"


class LiveEvent(Base):
    __tablename__ = "live_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Without the '#', as typed by the operator: ["AskAurora"].
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    answering_handle: Mapped[str] = mapped_column(String(64), default="")
    spokesperson: Mapped[str] = mapped_column(String(120), default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stream_url: Mapped[str] = mapped_column(String(500), default="")
    # Origins allowed to frame the audience page (the brand's sites), e.g.
    # ["https://www.aurora-bank.example"]. Empty: any HTTPS site (security.DEFAULT_EMBED_ANCESTORS).
    embed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[LiveEventState] = mapped_column(
        Enum(LiveEventState, native_enum=False, length=20), default=LiveEventState.scheduled
    )
    # For questions whose asker did not summon the answering account (so X forbids a reply):
    # "standalone" (a post naming the asker) or "page" (the Tribune page only).
    x_fallback: Mapped[str] = mapped_column(String(20), default="standalone")
    # The seq of the last Update written for this LiveEvent. Incremented in the writer's
    # transaction, whose row lock makes seq follow commit order (see realtime.service.emit).
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    """Who works a LiveEvent, and as what (moderator or spokesperson).

    Roles are per LiveEvent: the community manager of one bank's chat sees nothing of
    another's. Admins (operators) run every LiveEvent and are never listed here.
    """

    __tablename__ = "live_event_team"

    live_event_id: Mapped[int] = mapped_column(
        ForeignKey("live_events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
