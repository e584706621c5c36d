"""A LiveEvent's triage rules, and its moderators' corrections as evaluation data."""

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from app.db import SessionDep
from app.events.deps import Moderating
from app.security import csrf_protect
from app.triage import corrections, policy
from app.triage.schemas import TriageRulesIn, TriageRulesOut

router = APIRouter(
    prefix="/api/v1/events/{slug}/triage", tags=["triage"], dependencies=[Depends(csrf_protect)]
)


@router.get("/rules")
async def get_rules(session: SessionDep, access: Moderating) -> TriageRulesOut:
    """The LiveEvent's blocked words and accounts, auto-approved accounts, and whether the
    default profanity list and spam rejection apply (moderators and admins)."""
    return await policy.get(session, access.live_event)


@router.put("/rules")
async def put_rules(data: TriageRulesIn, session: SessionDep, access: Moderating) -> TriageRulesOut:
    """Replace the LiveEvent's rules (moderators and admins). They apply to questions triaged
    from now on."""
    return await policy.put(session, access.live_event, data)


@router.get(
    "/corrections.jsonl",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_corrections(session: SessionDep, access: Moderating) -> StreamingResponse:
    """Moderators' category corrections as eval/triage.jsonl lines (id, text, lang, category,
    group): ``python -m app.triage.evaluate FILE`` measures triage on them."""
    lines = [line async for line in corrections.export(session, access.live_event)]
    filename = f"{access.live_event.slug}-triage-corrections.jsonl"
    return StreamingResponse(
        iter(lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
