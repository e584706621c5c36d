import enum
from typing import Any

from app.accounts.models import MODERATORS, PRESENTERS, Role


class Channel(enum.StrEnum):
    """The three views of a LiveEvent's update log, from everything to the public's share."""

    moderation = "moderation"
    presenter = "presenter"
    public = "public"


# Which roles on the LiveEvent open each channel; None means anyone, no login.
CHANNEL_ROLES: dict[Channel, frozenset[Role] | None] = {
    Channel.moderation: MODERATORS,
    Channel.presenter: PRESENTERS,
    Channel.public: None,
}

# A message per channel, or None where the channel must not see the change at all.
ChannelMessages = dict[Channel, dict[str, Any] | None]

# WebSocket close codes (the 4000-4999 range is the application's).
CLOSE_LAGGING = 4008  # the client fell behind; resume from the last seq it saw
CLOSE_RESYNC = 4009  # too far behind (or ahead): reload a fresh snapshot
