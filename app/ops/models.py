from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class Lease(Base):
    """Who does a job that must run in exactly one worker (one ingest connection per source).

    The holder renews it well before ``expires_at``; a worker that dies stops renewing, and
    another takes the lease once it has expired. ``epoch`` grows at every change of holder.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
