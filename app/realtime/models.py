from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Update(Base):
    """One push message, numbered by its LiveEvent's seq.

    Each channel's message is stored ready-serialised: the hub sends the same bytes to every
    client of a channel and never re-encodes. A NULL message means the channel doesn't see it.
    """

    __tablename__ = "updates"
    __table_args__ = (UniqueConstraint("live_event_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    live_event_id: Mapped[int] = mapped_column(ForeignKey("live_events.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    moderation: Mapped[str] = mapped_column(Text)
    presenter: Mapped[str | None] = mapped_column(Text)
    public: Mapped[str | None] = mapped_column(Text)
