from fastapi import APIRouter, Depends

from app.accounts.deps import Admin
from app.charter import service
from app.charter.schemas import CharterIn, CharterOut, CheckIn, CheckOut, OverrideOut
from app.db import SessionDep
from app.errors import NotFound
from app.events import service as events
from app.events.deps import Moderating, Presenting
from app.questions import service as questions
from app.security import csrf_protect

router = APIRouter(
    prefix="/api/v1/events/{slug}/charter",
    tags=["charter"],
    dependencies=[Depends(csrf_protect)],
)


@router.get("")
async def get_charter(session: SessionDep, access: Presenting) -> CharterOut:
    """The LiveEvent's editorial charter (its team may read it; the defaults until saved)."""
    return await service.view(session, access.live_event)


@router.put("")
async def put_charter(slug: str, data: CharterIn, session: SessionDep, user: Admin) -> CharterOut:
    """Replace the LiveEvent's charter (admin): rules, their severity, templates."""
    live_event = await events.get_by_slug(session, slug)
    return await service.save(session, live_event, data, user)


@router.post("/check")
async def check_text(data: CheckIn, session: SessionDep, access: Presenting) -> CheckOut:
    """Check a draft answer against the charter for one network, as publishing will; the
    composer calls it as the spokesperson types. Nothing is stored."""
    question = None
    if data.question_id is not None:
        question = await questions.get(session, data.question_id)
        if question.live_event_id != access.live_event.id:
            raise NotFound(f"no question {data.question_id} in this LiveEvent")
    return await service.check_text(session, access.live_event, data.text, data.network, question)


@router.get("/overrides")
async def list_overrides(session: SessionDep, access: Moderating) -> list[OverrideOut]:
    """Every answer published over a hard rule: who, when, which rules, why, what (moderators)."""
    return await service.overrides(session, access.live_event)
