from fastapi import APIRouter, Depends

from app.accounts import service as accounts
from app.accounts.deps import Admin, CurrentUser
from app.db import SessionDep
from app.events import service
from app.events.schemas import (
    LiveEventCreate,
    LiveEventOut,
    LiveEventUpdate,
    TeamMemberIn,
    TeamMemberOut,
)
from app.security import csrf_protect

router = APIRouter(prefix="/api/v1/events", tags=["events"], dependencies=[Depends(csrf_protect)])


@router.post("", status_code=201)
async def create_live_event(data: LiveEventCreate, session: SessionDep, _: Admin) -> LiveEventOut:
    """Schedule a LiveEvent (admin)."""
    return LiveEventOut.model_validate(await service.create(session, data))


@router.get("")
async def list_live_events(session: SessionDep, user: CurrentUser) -> list[LiveEventOut]:
    """The LiveEvents you work: every one for an admin, else those whose team you are on."""
    return [LiveEventOut.model_validate(e) for e, _ in await service.list_for(session, user)]


@router.get("/{slug}")
async def get_live_event(slug: str, session: SessionDep) -> LiveEventOut:
    """A LiveEvent's public description (no login: the audience page reads it)."""
    return LiveEventOut.model_validate(await service.get_by_slug(session, slug))


@router.patch("/{slug}")
async def edit_live_event(
    slug: str, data: LiveEventUpdate, session: SessionDep, _: Admin
) -> LiveEventOut:
    """Edit a LiveEvent, or open (state=live) and close (state=ended) it (admin)."""
    live_event = await service.get_by_slug(session, slug)
    return LiveEventOut.model_validate(await service.edit(session, live_event, data))


@router.get("/{slug}/team")
async def get_team(slug: str, session: SessionDep, _: Admin) -> list[TeamMemberOut]:
    """Who works this LiveEvent and as what (admin). Admins run every LiveEvent."""
    return await service.team(session, await service.get_by_slug(session, slug))


@router.put("/{slug}/team/{username}")
async def assign_team_member(
    slug: str,
    username: str,
    session: SessionDep,
    _: Admin,
    data: TeamMemberIn | None = None,
) -> TeamMemberOut:
    """Put a user on the team as moderator or spokesperson, or change their role (admin).
    Without a body, the user's account role."""
    live_event = await service.get_by_slug(session, slug)
    user = await accounts.get_user(session, username)
    return await service.assign(session, live_event, user, data.role if data else None)


@router.delete("/{slug}/team/{username}", status_code=204)
async def remove_team_member(slug: str, username: str, session: SessionDep, _: Admin) -> None:
    """Take a user off the team (admin): their open screens for it close within seconds."""
    live_event = await service.get_by_slug(session, slug)
    await service.unassign(session, live_event, await accounts.get_user(session, username))
