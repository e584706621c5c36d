from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from app.accounts.deps import CurrentUser
from app.accounts.models import MODERATORS, PRESENTERS, Role, User
from app.charter import service as charter
from app.db import MAX_ID, IdPath, SessionDep
from app.errors import error_responses
from app.events import service as events
from app.events.deps import Presenting
from app.publishing import service as publishing
from app.publishing.service import AnswerPreview
from app.publishing.spend import EventSpend
from app.questions import service
from app.questions.schemas import (
    ActionIn,
    AnswerIn,
    AnswerOut,
    AnswerPublish,
    AudienceQuestionIn,
    MergeIn,
    PublicQuestion,
    PublicSnapshot,
    QuestionCounts,
    QuestionEdit,
    QuestionFilters,
    QuestionOut,
    QuestionPage,
    TransitionOut,
)
from app.questions.states import Action, Status
from app.security import TooManyRequests, client_key, csrf_protect

router = APIRouter(prefix="/api/v1", tags=["questions"], dependencies=[Depends(csrf_protect)])

OptionalAction = Annotated[ActionIn | None, Body()]


def question_role(allowed: frozenset[Role]) -> Callable[..., Awaitable[User]]:
    """A dependency for routes under ``/questions/{question_id}``: the user, if their role on
    the question's LiveEvent is one of ``allowed``."""

    async def check(question_id: IdPath, session: SessionDep, user: CurrentUser) -> User:
        question = await service.get(session, question_id)
        live_event = await events.get(session, question.live_event_id)
        await events.require_role(session, user, live_event, allowed)
        return user

    return check


Moderator = Annotated[User, Depends(question_role(MODERATORS))]
Presenter = Annotated[User, Depends(question_role(PRESENTERS))]


@router.get("/events/{slug}/questions")
async def list_questions(
    session: SessionDep,
    access: Presenting,
    filters: Annotated[QuestionFilters, Query()],
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> QuestionPage:
    """Questions of a LiveEvent, by status; approved ones in queue order. Filter by category,
    language, source, or text (``q``)."""
    return await service.list_questions(session, access.live_event, status, limit, offset, filters)


@router.get("/events/{slug}/counts")
async def question_counts(session: SessionDep, access: Presenting) -> QuestionCounts:
    """How many questions per status and per category: the console's counters."""
    return await service.counts(session, access.live_event)


@router.post("/events/{slug}/questions", status_code=201, responses=error_responses(429))
async def ask_question(
    slug: str, data: AudienceQuestionIn, request: Request, session: SessionDep
) -> PublicQuestion:
    """An audience question from the Tribune page (public). It waits for moderation.

    One client may ask a few a minute (TRIBUNE_AUDIENCE_QUESTIONS_PER_MINUTE): a 429 says when
    to try again."""
    settings = request.app.state.settings
    wait = request.app.state.audience_limiter.hit(client_key(request, settings.trusted_proxies))
    if wait is not None:
        raise TooManyRequests(
            f"too many questions from you; try again in {int(wait) + 1} s",
            retry_after=int(wait) + 1,
        )
    live_event = await events.get_by_slug(session, slug)
    question = await service.ask(session, live_event, data.text, data.author_name)
    view = await service.question_view(session, question)
    return PublicQuestion.model_validate(view.model_dump())


# A CDN may serve the snapshot this long: a page that loads a slightly older one resumes its
# socket from that snapshot's seq and gets the rest, so staleness costs nothing.
SNAPSHOT_MAX_AGE_SECONDS = 2


def _snapshot_etag(live_event_id: int, seq: int) -> str:
    # The snapshot is a function of the LiveEvent's log: same last seq, same snapshot.
    return f'"{live_event_id}.{seq}"'


@router.get(
    "/events/{slug}/public",
    response_model=PublicSnapshot,
    responses={304: {"description": "Not modified: the If-None-Match ETag is current."}},
)
async def public_snapshot(
    slug: str,
    session: SessionDep,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> PublicSnapshot | Response:
    """What the audience page shows: the question on air and answered Q&A (public).

    Cacheable (a few seconds, by anyone) with an ETag: a CDN in front absorbs page loads, and
    a conditional request for an unchanged snapshot gets a 304 without the database's work."""
    live_event = await events.get_by_slug(session, slug)
    cache = f"public, max-age={SNAPSHOT_MAX_AGE_SECONDS}"
    current = _snapshot_etag(live_event.id, live_event.last_seq)
    if if_none_match and current in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": current, "Cache-Control": cache})
    snapshot = await service.public_snapshot(session, live_event)
    response.headers["ETag"] = _snapshot_etag(live_event.id, snapshot.seq)
    response.headers["Cache-Control"] = cache
    return snapshot


@router.get("/questions/{question_id}")
async def get_question(question_id: IdPath, session: SessionDep, _: Presenter) -> QuestionOut:
    return await service.question_view(session, await service.get(session, question_id))


@router.get("/questions/{question_id}/history")
async def question_history(
    question_id: IdPath, session: SessionDep, _: Moderator
) -> list[TransitionOut]:
    """Every transition of the question: who, when, from what to what."""
    await service.get(session, question_id)
    return [TransitionOut.model_validate(t) for t in await service.history(session, question_id)]


@router.patch("/questions/{question_id}")
async def edit_question(
    question_id: IdPath, data: QuestionEdit, session: SessionDep, user: Moderator
) -> QuestionOut:
    """Edit the text (the original is kept), the note, the category or the queue position."""
    question = await service.edit(session, question_id, data, user)
    return await service.question_view(session, question)


async def _act(
    session: SessionDep, question_id: int, action: Action, user: Moderator, body: ActionIn | None
) -> QuestionOut:
    version = body.version if body else None
    question = await service.act(session, question_id, action, user, version)
    return await service.question_view(session, question)


@router.post("/questions/{question_id}/approve")
async def approve(
    question_id: IdPath, session: SessionDep, user: Moderator, body: OptionalAction = None
) -> QuestionOut:
    return await _act(session, question_id, Action.approve, user, body)


@router.post("/questions/{question_id}/reject")
async def reject(
    question_id: IdPath, session: SessionDep, user: Moderator, body: OptionalAction = None
) -> QuestionOut:
    return await _act(session, question_id, Action.reject, user, body)


@router.post("/questions/{question_id}/archive")
async def archive(
    question_id: IdPath, session: SessionDep, user: Moderator, body: OptionalAction = None
) -> QuestionOut:
    return await _act(session, question_id, Action.archive, user, body)


@router.post("/questions/{question_id}/on-air")
async def on_air(
    question_id: IdPath, session: SessionDep, user: Presenter, body: OptionalAction = None
) -> QuestionOut:
    """Put an approved question on air; the one on air before goes back to the queue head."""
    version = body.version if body else None
    question = await service.act(session, question_id, Action.on_air, user, version)
    return await service.question_view(session, question)


@router.post("/questions/{question_id}/mark-answered")
async def mark_answered(
    question_id: IdPath, session: SessionDep, user: Presenter, body: OptionalAction = None
) -> QuestionOut:
    """The spokesperson answered out loud: answered, with no written answer to publish."""
    version = body.version if body else None
    question = await service.act(session, question_id, Action.mark_answered, user, version)
    return await service.question_view(session, question)


@router.post("/questions/{question_id}/undo")
async def undo(
    question_id: IdPath, session: SessionDep, user: Moderator, body: OptionalAction = None
) -> QuestionOut:
    """Revert the question's last transition (again to step further back)."""
    version = body.version if body else None
    question = await service.undo(session, question_id, user, version)
    return await service.question_view(session, question)


@router.post("/questions/{question_id}/merge")
async def merge(
    question_id: IdPath, data: MergeIn, session: SessionDep, user: Moderator
) -> QuestionOut:
    """Merge duplicates (``ids``, of the same LiveEvent, pending or approved) into this question
    (not yet answered): they leave the queues, their askers show on it, and its answer replies
    to each of them where the network allows. ``version``: this question's; ``versions``: theirs.
    """
    question = await service.merge(
        session, question_id, data.ids, user, data.version, data.versions
    )
    return await service.question_view(session, question)


@router.post("/questions/{question_id}/unmerge")
async def unmerge(
    question_id: IdPath, session: SessionDep, user: Moderator, body: OptionalAction = None
) -> QuestionOut:
    """Take a merged question out of its group, back to pending or to the end of the queue;
    refused once the group is answered."""
    version = body.version if body else None
    question = await service.unmerge(session, question_id, user, version)
    return await service.question_view(session, question)


@router.post("/questions/{question_id}/answer-preview")
async def answer_preview(
    question_id: IdPath, data: AnswerIn, request: Request, session: SessionDep, _: Presenter
) -> AnswerPreview:
    """What publishing this answer would post on X (the thread's parts) and its estimated
    spend; nothing is stored. The composer shows it as the spokesperson types."""
    question = await service.get(session, question_id)
    live_event = await events.get(session, question.live_event_id)
    x_enabled = request.app.state.settings.x_credentials().can_post
    askers = await service.askers_of(session, question)
    return publishing.preview(
        question, live_event, data.text, data.x_mode, x_enabled, askers, data.reply_to_askers
    )


@router.get("/events/{slug}/spend")
async def x_spend(session: SessionDep, access: Presenting) -> EventSpend:
    """The LiveEvent's estimated X spend so far (posts read, posts created, URL posts)."""
    return await publishing.live_event_spend(session, access.live_event)


@router.post("/questions/{question_id}/answers", status_code=201)
async def answer(
    question_id: IdPath, data: AnswerPublish, request: Request, session: SessionDep, user: Presenter
) -> AnswerOut:
    """Publish the spokesperson's answer; the question becomes answered everywhere.

    The charter is checked first for every network the answer goes to: a hard violation is a
    422 listing them, unless a moderator sends ``override`` (audited)."""
    x_enabled = request.app.state.settings.x_credentials().can_post
    question = await service.get(session, question_id)
    live_event = await events.get(session, question.live_event_id)
    networks = charter.answer_networks(question, live_event, data.x_mode, x_enabled)
    broken = await charter.vet_answer(
        session, live_event, question, data.text, networks, user, data.override
    )
    row = await service.answer(
        session, question_id, data.text, user, data.x_mode, x_enabled, data.reply_to_askers
    )
    if broken and data.override is not None:
        await charter.record_override(
            session, live_event, row, user, broken, networks, data.override
        )
    view = await service.question_view(session, await service.get(session, question_id))
    if view.answer is None:  # cannot be: the answer was written in this transaction
        raise RuntimeError("answer vanished")
    return view.answer
