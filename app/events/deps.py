"""Per-LiveEvent authorisation: who may read and act on a LiveEvent is decided by the role
they hold on it (TeamMember), not by their account alone."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from app.accounts.deps import CurrentUser
from app.accounts.models import MODERATORS, PRESENTERS, Role, User
from app.db import SessionDep
from app.events import service
from app.events.models import LiveEvent


@dataclass(frozen=True)
class EventAccess:
    live_event: LiveEvent
    user: User
    role: Role


def event_role(allowed: frozenset[Role]) -> Callable[..., Awaitable[EventAccess]]:
    """A dependency for routes under ``/{slug}``: the LiveEvent, if the user's role on it is
    one of ``allowed`` (403 otherwise, 404 for an unknown slug)."""

    async def check(slug: str, session: SessionDep, user: CurrentUser) -> EventAccess:
        live_event = await service.get_by_slug(session, slug)
        role = await service.require_role(session, user, live_event, allowed)
        return EventAccess(live_event, user, role)

    return check


Moderating = Annotated[EventAccess, Depends(event_role(MODERATORS))]
Presenting = Annotated[EventAccess, Depends(event_role(PRESENTERS))]
