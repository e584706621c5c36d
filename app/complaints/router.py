from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from app.accounts.models import MODERATORS, User
from app.complaints import service
from app.complaints.schemas import (
    CaseAction,
    CaseEdit,
    CaseOut,
    DeskOut,
    DeskSettingsIn,
    DeskSettingsOut,
    DeskTotals,
    FollowupCheck,
    FollowupCheckIn,
    FollowupIn,
    FollowupProposal,
)
from app.db import IdPath, SessionDep
from app.events.deps import Moderating
from app.questions import service as questions
from app.questions.router import question_role
from app.security import csrf_protect

router = APIRouter(prefix="/api/v1", tags=["complaints"], dependencies=[Depends(csrf_protect)])

Moderator = Annotated[User, Depends(question_role(MODERATORS))]
OptionalCaseAction = Annotated[CaseAction | None, Body()]


def _x_enabled(request: Request) -> bool:
    return bool(request.app.state.settings.x_credentials().can_post)


@router.get("/events/{slug}/complaints")
async def list_complaints(session: SessionDep, access: Moderating) -> DeskOut:
    """The complaints desk: every complaint with its case (status, assignee, SLA due time,
    follow-ups), oldest first, and the desk's settings."""
    return await service.desk(session, access.live_event)


@router.get("/events/{slug}/complaints/totals")
async def complaint_totals(session: SessionDep, access: Moderating) -> DeskTotals:
    """How many complaints are unresolved and resolved in all: a desk that lists only part of
    them (a flood) counts the rest from here."""
    return await service.desk_totals(session, access.live_event)


@router.get(
    "/events/{slug}/complaints.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The complaints as CSV."}},
)
async def complaints_csv(session: SessionDep, access: Moderating) -> Response:
    """Every complaint and its case for customer service: UTF-8 CSV that Excel opens as is,
    with cells that would start a formula neutralised."""
    body = await service.export_csv(session, access.live_event)
    filename = f"complaints-{access.live_event.slug}.csv"
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/events/{slug}/desk-settings")
async def get_desk_settings(session: SessionDep, access: Moderating) -> DeskSettingsOut:
    """The desk's SLA: minutes to a first response. (The follow-up's templates and signature
    are the editorial charter's.)"""
    return await service.desk_settings(session, access.live_event)


@router.patch("/events/{slug}/desk-settings")
async def edit_desk_settings(
    data: DeskSettingsIn, session: SessionDep, access: Moderating
) -> DeskSettingsOut:
    """Change the SLA."""
    return await service.update_settings(session, access.live_event, data)


@router.get("/complaints/{question_id}")
async def get_case(question_id: IdPath, session: SessionDep, _: Moderator) -> CaseOut:
    return await service.case_view(session, question_id)


@router.patch("/complaints/{question_id}")
async def edit_case(
    question_id: IdPath, data: CaseEdit, session: SessionDep, user: Moderator
) -> CaseOut:
    """Change the case's status, assignee (a member of the LiveEvent's team; null unassigns) or
    notes. Give the version the desk showed to refuse overwriting someone else's change."""
    return await service.edit_case(session, question_id, data, user)


@router.post("/complaints/{question_id}/move-to-stage")
async def move_to_stage(
    question_id: IdPath, session: SessionDep, user: Moderator, body: OptionalCaseAction = None
) -> CaseOut:
    """Make the complaint a question for the spokesperson; its case closes, saying so."""
    version = body.version if body else None
    return await service.move_to_stage(session, question_id, user, version)


@router.get("/complaints/{question_id}/followup")
async def propose_followup(
    question_id: IdPath, request: Request, session: SessionDep, _: Moderator
) -> FollowupProposal:
    """The charter's complaint follow-up templates filled in for this asker, whether X allows
    it as a reply, and what is wrong with the first."""
    await service.case_view(session, question_id)
    return await service.propose_followup(session, question_id, _x_enabled(request))


@router.post("/complaints/{question_id}/followup/check")
async def check_followup(
    question_id: IdPath, data: FollowupCheckIn, request: Request, session: SessionDep, _: Moderator
) -> FollowupCheck:
    """What is wrong with this follow-up text, and its price as an X reply (the desk checks as
    the moderator types)."""
    question = await questions.get(session, question_id)
    return await service.check_for(session, question, data.text, _x_enabled(request))


@router.post("/complaints/{question_id}/followup")
async def send_followup(
    question_id: IdPath, data: FollowupIn, request: Request, session: SessionDep, user: Moderator
) -> CaseOut:
    """Send the follow-up as an X reply to the asker (``via: x_reply``, only where X allows
    it), or record that it was copied and sent by hand (``via: copied``). Hard problems block
    it unless ``override``, which the case's trail keeps."""
    return await service.send_followup(session, question_id, data, user, _x_enabled(request))
