import secrets
from html import escape
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from app import cookies
from app.accounts import service as accounts
from app.accounts.deps import SESSION_COOKIE, OptionalUser, session_cookie
from app.accounts.models import MODERATORS, PRESENTERS, Role, User
from app.charter import service as charter
from app.complaints import service as complaints
from app.complaints.models import CaseStatus
from app.db import SessionDep
from app.events import service as events
from app.events.models import LiveEvent
from app.events.schemas import LiveEventOut
from app.ingest import service as ingest
from app.paths import TEMPLATES_DIR
from app.publishing import service as publishing
from app.questions import service as questions
from app.questions.models import Category
from app.questions.states import Status
from app.security import (
    DEFAULT_EMBED_ANCESTORS,
    PRE_SESSION_COOKIE,
    client_key,
    csp,
    csrf_protect,
    is_https,
    token_for,
)
from app.triage import policy as triage_policy

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
templates = Jinja2Templates(directory=TEMPLATES_DIR)

# What the console loads at first, per status: the rest comes page by page as it scrolls.
CONSOLE_PAGES = (
    (Status.on_air, 10),
    (Status.approved, 500),
    (Status.pending, 200),
    (Status.answered, 50),
    (Status.rejected, 50),
    (Status.archived, 50),
)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def _forbidden(request: Request, user: User, role: Role | None) -> HTMLResponse:
    message = (
        "You are not on this LiveEvent's team; an admin can add you."
        if role is None
        else f"Your role here ({role.value}) cannot open this page."
    )
    return templates.TemplateResponse(
        request,
        "message.html",
        {"user": user, "title": "Not allowed", "message": message},
        status_code=403,
    )


def _page(request: Request, name: str, user: User | None, **context: Any) -> HTMLResponse:
    secret = request.app.state.settings.secret_key.get_secret_value()
    context.setdefault("csrf_token", token_for(request, secret))
    return templates.TemplateResponse(request, name, {"user": user, **context})


async def _staff_access(
    request: Request, session: AsyncSession, user: User | None, slug: str, roles: frozenset[Role]
) -> tuple[LiveEvent, Role | None] | Response:
    """A staff page's LiveEvent and the user's role on it, or the page to answer instead: the
    login page for nobody, "not allowed" for a role not in ``roles``."""
    if user is None:
        return _login_redirect(request)
    live_event = await events.get_by_slug(session, slug)
    role = await events.role_on(session, user, live_event.id)
    if role not in roles:
        return _forbidden(request, user, role)
    return live_event, role


@router.get("/", response_model=None)
async def home(user: OptionalUser) -> RedirectResponse:
    return RedirectResponse("/admin" if user else "/login", status_code=303)


@router.get("/login", response_model=None)
async def login_form(request: Request, user: OptionalUser, next: str = "/admin") -> HTMLResponse:
    # No session yet to bind a CSRF token to: a random cookie that the form must echo.
    pre = cookies.read(request.cookies, PRE_SESSION_COOKIE) or secrets.token_urlsafe(32)
    response = _page(request, "login.html", user, next=_safe_next(next), error="", csrf_token=pre)
    cookies.put(response, PRE_SESSION_COOKIE, pre, https=_https(request), samesite="strict")
    return response


def _https(request: Request) -> bool:
    return is_https(request, request.app.state.settings.trusted_proxies)


def _safe_next(target: str) -> str:
    # Only same-site paths: "//evil.example" and "https://…" would be an open redirect.
    return target if target.startswith("/") and not target.startswith("//") else "/admin"


def _login_again(request: Request, next: str, error: str, status: int) -> HTMLResponse:
    """The login form once more, with what went wrong (same pre-login CSRF cookie)."""
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "user": None,
            "next": _safe_next(next),
            "error": error,
            "csrf_token": cookies.read(request.cookies, PRE_SESSION_COOKIE) or "",
        },
        status_code=status,
    )


@router.post("/login", response_model=None)
async def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/admin",
) -> Response:
    limits = request.app.state.login_limits
    client = client_key(request, request.app.state.settings.trusted_proxies)
    account = username.strip().lower()
    if limits.blocked(account, client):
        return _login_again(
            request, next, "Too many failed attempts; wait a few minutes and try again.", 429
        )
    user = await accounts.authenticate(session, username.strip(), password)
    if user is None:
        limits.failed(account, client)
        return _login_again(request, next, "Wrong username or password.", 401)
    # A fresh session at every login, and the one this browser held before ends: a session id
    # planted before login (session fixation) is worth nothing after it.
    previous = session_cookie(request.cookies)
    if previous:
        await accounts.end_web_session(session, previous)
    hours = request.app.state.settings.session_hours
    token = await accounts.create_web_session(session, user, hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    https = _https(request)
    cookies.put(response, SESSION_COOKIE, token, https=https, samesite="lax", max_age=hours * 3600)
    # From now on the session's own CSRF token applies.
    cookies.drop(response, PRE_SESSION_COOKIE, https=https)
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request, session: SessionDep) -> RedirectResponse:
    token = session_cookie(request.cookies)
    if token:
        await accounts.end_web_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    cookies.drop(response, SESSION_COOKIE, https=_https(request))
    return response


@router.get("/admin", response_model=None)
async def admin(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    rows = await events.list_for(session, user)
    return _page(
        request,
        "admin.html",
        user,
        live_events=[
            {**LiveEventOut.model_validate(e).model_dump(mode="json"), "role": role.value}
            for e, role in rows
        ],
        is_admin=user.role == Role.admin,
    )


# The iframe's recommended size: the page adapts to any width from 320 px; 900 px high shows
# the stream, the question on air and the start of the answers without an inner scroll.
EMBED_HEIGHT = 900


def embed_snippet(request: Request, live_event: LiveEvent) -> str:
    src = str(request.url_for("live", slug=live_event.slug))
    title = escape(f"{live_event.title}: live Q&A")
    return (
        f'<iframe src="{escape(src)}" title="{title}" width="100%" height="{EMBED_HEIGHT}" '
        'style="border:0;max-width:100%" allow="autoplay; encrypted-media; fullscreen; '
        'picture-in-picture" loading="lazy"></iframe>'
    )


@router.get("/admin/events/{slug}", response_model=None)
async def admin_event(
    request: Request, slug: str, session: SessionDep, user: OptionalUser
) -> Response:
    if user is None:
        return _login_redirect(request)
    live_event = await events.get_by_slug(session, slug)
    if user.role != Role.admin:
        return _forbidden(request, user, await events.role_on(session, user, live_event.id))
    return _page(
        request,
        "admin_event.html",
        user,
        e=LiveEventOut.model_validate(live_event).model_dump(mode="json"),
        team=await events.team(session, live_event),
        candidates=[
            u.username
            for u in await accounts.list_users(session)
            if u.role is not Role.admin and u.is_active
        ],
        snippet=embed_snippet(request, live_event),
        sources=await ingest.sources_of(session, live_event),
        spend=await publishing.live_event_spend(session, live_event),
        charter=(await charter.view(session, live_event)).model_dump(mode="json"),
        overrides=await charter.overrides(session, live_event),
        triage_rules=await triage_policy.get(session, live_event),
    )


@router.get("/moderate/{slug}", response_model=None)
async def moderate(
    request: Request, slug: str, session: SessionDep, user: OptionalUser
) -> Response:
    access = await _staff_access(request, session, user, slug, MODERATORS)
    if isinstance(access, Response):
        return access
    live_event, _ = access
    # Each list's page reads the seq before its rows; the socket resumes from the smallest, so
    # nothing that changed while the page was read is missed (some may come twice: harmless).
    pages = [
        await questions.list_questions(session, live_event, status, limit, 0)
        for status, limit in CONSOLE_PAGES
    ]
    counts = await questions.counts(session, live_event)
    facets = await questions.facets(session, live_event)
    return _page(
        request,
        "moderate.html",
        user,
        live_event=LiveEventOut.model_validate(live_event).model_dump(mode="json"),
        initial={
            "seq": min(page.seq for page in pages),
            "questions": [q.model_dump(mode="json") for page in pages for q in page.items],
            "counts": counts.model_dump(mode="json"),
        },
        categories=[c.value for c in Category],
        languages=facets.languages,
        sources=facets.sources,
    )


@router.get("/present/{slug}", response_model=None)
async def present(request: Request, slug: str, session: SessionDep, user: OptionalUser) -> Response:
    access = await _staff_access(request, session, user, slug, PRESENTERS)
    if isinstance(access, Response):
        return access
    live_event, role = access
    pages = [
        await questions.list_questions(session, live_event, status, 500, 0)
        for status in (Status.on_air, Status.approved, Status.answered)
    ]
    seq = min(page.seq for page in pages)
    items = [q.model_dump(mode="json") for page in pages for q in page.items]
    return _page(
        request,
        "present.html",
        user,
        x_enabled=request.app.state.settings.x_credentials().can_post,
        live_event=LiveEventOut.model_validate(live_event).model_dump(mode="json"),
        initial={"seq": seq, "questions": items},
        charter=(await charter.view(session, live_event)).model_dump(mode="json"),
        # Only a moderator (or admin) may publish over a hard rule of the charter.
        can_override=role in MODERATORS,
    )


@router.get("/desk/{slug}", response_model=None)
async def desk(request: Request, slug: str, session: SessionDep, user: OptionalUser) -> Response:
    """The complaints desk: the server renders the first state, desk.js keeps it live."""
    access = await _staff_access(request, session, user, slug, MODERATORS)
    if isinstance(access, Response):
        return access
    live_event, _ = access
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


@router.get("/live/{slug}", response_model=None)
async def live(request: Request, slug: str, session: SessionDep) -> Response:
    live_event = await events.get_by_slug(session, slug)
    snapshot = await questions.public_snapshot(session, live_event)
    response = _page(
        request,
        "live.html",
        None,
        live_event=LiveEventOut.model_validate(live_event).model_dump(mode="json"),
        initial=snapshot.model_dump(mode="json"),
        player=events.player_url(live_event.stream_url, request.url.hostname or ""),
    )
    # The one page made to be framed: by the LiveEvent's embedding origins only.
    ancestors = " ".join(live_event.embed_origins) or DEFAULT_EMBED_ANCESTORS
    response.headers["Content-Security-Policy"] = csp(f"'self' {ancestors}")
    return response
