from fastapi import APIRouter, Depends

from app.accounts.deps import Admin, CurrentUser
from app.db import SessionDep
from app.events import service
from app.events.schemas import LiveEventCreate, LiveEventOut, LiveEventUpdate
from app.security import csrf_protect

router = APIRouter(prefix="/api/v1/events", tags=["events"], dependencies=[Depends(csrf_protect)])


@router.post("", status_code=201)
async def create_live_event(data: LiveEventCreate, session: SessionDep, _: Admin) -> LiveEventOut:
    """Schedule a LiveEvent (admin)."""
    return LiveEventOut.model_validate(await service.create(session, data))


@router.get("")
async def list_live_events(session: SessionDep, _: CurrentUser) -> list[LiveEventOut]:
    return [LiveEventOut.model_validate(e) for e in await service.list_all(session)]


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
