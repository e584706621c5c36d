import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    published = "published"
    failed = "failed"
    # Sent, but we do not know whether the network took it: reconcile before any retry.
    unknown = "unknown"


class Delivery(Base):
    """One publication of one answer to one target, with its outcome."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("answer_id", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(20))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=20), default=DeliveryStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str] = mapped_column(String(64), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
