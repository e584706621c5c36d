"""The complaints desk's page: the server renders the first state, desk.js keeps it live."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.accounts.deps import OptionalUser
from app.accounts.models import MODERATORS
from app.complaints import service as complaints
from app.complaints.models import CaseStatus
from app.db import SessionDep
from app.events import service as events
from app.events.schemas import LiveEventOut
from app.security import csrf_protect
from app.web.router import _forbidden, _login_redirect, _page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


@router.get("/desk/{slug}", response_model=None)
async def desk(request: Request, slug: str, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    live_event = await events.get_by_slug(session, slug)
    role = await events.role_on(session, user, live_event.id)
    if role not in MODERATORS:
        return _forbidden(request, user, role)
    view = await complaints.desk(session, live_event)
    team = await events.team(session, live_event)
    return _page(
        request,
        "desk.html",
        user,
        live_event=LiveEventOut.model_validate(live_event).model_dump(mode="json"),
        initial=view.model_dump(mode="json"),
        team=[member.username for member in team if member.is_active],
        statuses=[s.value for s in CaseStatus],
        x_enabled=request.app.state.settings.x_credentials().can_post,
    )
