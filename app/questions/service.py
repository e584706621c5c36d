"""Moderation: the question lifecycle, edits, answers, and what each screen is told of them."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.models import User
from app.bulk import BulkInsert
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.events.models import LiveEvent, LiveEventState
from app.publishing import service as publishing
from app.publishing.models import Delivery, XMode
from app.questions.models import Answer, Category, CategorySource, Origin, Question, Transition
from app.questions.schemas import (
    AnswerOut,
    AskerOut,
    DeliveryOut,
    NewQuestion,
    PublicQuestion,
    PublicSnapshot,
    QuestionCounts,
    QuestionEdit,
    QuestionFacets,
    QuestionFilters,
    QuestionOut,
    QuestionPage,
)
from app.questions.states import (
    ABSORBING,
    MERGEABLE,
    PRESENTER_VISIBLE,
    PUBLIC_VISIBLE,
    Action,
    IllegalTransition,
    Status,
    next_status,
)
from app.realtime.schemas import Channel, ChannelMessages
from app.realtime.service import emit, emit_many, last_seq
from app.triage import corrections

# --- Views -------------------------------------------------------------------------------------


async def _answers_for(session: AsyncSession, question_ids: Sequence[int]) -> dict[int, AnswerOut]:
    """The latest answer of each question, with its deliveries, in two queries."""
    if not question_ids:
        return {}
    answers = (
        await session.scalars(
            select(Answer)
            .where(Answer.question_id.in_(question_ids), Answer.private.is_(False))
            .order_by(Answer.id)
        )
    ).all()
    latest = {a.question_id: a for a in answers}
    deliveries: dict[int, list[DeliveryOut]] = {}
    if latest:
        rows = await session.scalars(
            select(Delivery)
            .where(Delivery.answer_id.in_([a.id for a in latest.values()]))
            .order_by(Delivery.id)
        )
        for d in rows:
            deliveries.setdefault(d.answer_id, []).append(DeliveryOut.model_validate(d))
    return {
        qid: AnswerOut(
            id=a.id,
            text=a.text,
            author_name=a.author_name,
            created_at=a.created_at,
            deliveries=deliveries.get(a.id, []),
        )
        for qid, a in latest.items()
    }


async def _askers_for(
    session: AsyncSession, question_ids: Sequence[int]
) -> dict[int, list[Question]]:
    """The questions merged into each of ``question_ids``, oldest first, in one query."""
    if not question_ids:
        return {}
    rows = await session.scalars(
        select(Question).where(Question.merged_into_id.in_(question_ids)).order_by(Question.id)
    )
    askers: dict[int, list[Question]] = {}
    for row in rows:
        if row.merged_into_id is not None:
            askers.setdefault(row.merged_into_id, []).append(row)
    return askers


async def askers_of(session: AsyncSession, question: Question) -> list[Question]:
    """The questions merged into ``question``: one answer to it serves their askers too."""
    return (await _askers_for(session, [question.id])).get(question.id, [])


def _full(
    question: Question, answer: AnswerOut | None, askers: Sequence[Question] = ()
) -> QuestionOut:
    return QuestionOut(
        id=question.id,
        live_event_id=question.live_event_id,
        origin=question.origin,
        text=question.text,
        original_text=question.original_text,
        author_name=question.author_name,
        author_handle=question.author_handle,
        source=question.source,
        lang=question.lang,
        status=question.status,
        category=question.category,
        queue_position=question.queue_position,
        note=question.note,
        merged_into_id=question.merged_into_id,
        created_at=question.created_at,
        status_changed_at=question.status_changed_at,
        status_changed_by=question.status_changed_by,
        version=question.version,
        answer=answer,
        x_options=publishing.x_options(question),
        askers=[AskerOut.model_validate(a) for a in askers],
        asked_by=1 + len(askers),
        triage_confidence=question.triage_confidence,
        triaged_at=question.triaged_at,
        category_source=question.category_source,
        triage_group_id=question.triage_group_id,
        triage_reason=question.triage_reason,
    )


def _public(question: Question, answer: AnswerOut | None, asked_by: int = 1) -> PublicQuestion:
    return PublicQuestion(
        id=question.id,
        text=question.text,
        author_name=question.author_name,
        author_handle=question.author_handle,
        source=question.source,
        status=question.status,
        created_at=question.created_at,
        status_changed_at=question.status_changed_at,
        answer=answer,
        asked_by=asked_by,
    )


async def question_view(session: AsyncSession, question: Question) -> QuestionOut:
    answers = await _answers_for(session, [question.id])
    return _full(question, answers.get(question.id), await askers_of(session, question))


def _messages(
    question: Question,
    answer: AnswerOut | None,
    before: Status | None,
    askers: Sequence[Question] = (),
) -> ChannelMessages:
    """What each channel is told of a question's change.

    A channel sees the question while its status is visible there. When the question leaves a
    channel's view (an undo, an archive), that channel gets a bare "question.removed" with the
    id only, so no text it should not see ever travels on it.
    """
    return _view_messages(_full(question, answer, askers), before)


# What the audience may see of a question: PublicQuestion's fields, and no others.
_PUBLIC_FIELDS = set(PublicQuestion.model_fields)


def _view_messages(view: QuestionOut, before: Status | None) -> ChannelMessages:
    """``_messages`` from the question's full view. The view itself goes into the moderation
    and presenter messages: the frame encoder serialises it straight to JSON (pydantic-core),
    with no intermediate dict, which is most of the cost of an ingested post's frame."""
    messages: ChannelMessages = {Channel.moderation: {"question": view}}
    for channel, visible in (
        (Channel.presenter, PRESENTER_VISIBLE),
        (Channel.public, PUBLIC_VISIBLE),
    ):
        if view.status in visible:
            # The presenter sees the whole question; the public, PublicQuestion's share only.
            public = channel == Channel.public
            body = view.model_dump(mode="json", include=_PUBLIC_FIELDS) if public else view
            messages[channel] = {"question": body}
        elif before in visible:
            messages[channel] = {"type": "question.removed", "id": view.id}
        else:
            messages[channel] = None
    return messages


async def emit_question(session: AsyncSession, question: Question) -> None:
    """Tell every screen the question's current state (its answer's deliveries included)."""
    await _emit_question(session, question, question.status)


async def emit_questions(
    session: AsyncSession, changed: Sequence[tuple[Question, Status | None]]
) -> None:
    """Tell every screen the current state of several questions, each with the status it had
    before (for the channels it leaves or enters): one run of updates per LiveEvent."""
    await session.flush()
    answers = await _answers_for(session, [q.id for q, _ in changed])
    by_live_event: dict[int, list[ChannelMessages]] = {}
    for question, before in changed:
        messages = _messages(question, answers.get(question.id), before)
        by_live_event.setdefault(question.live_event_id, []).append(messages)
    for live_event_id, batch in sorted(by_live_event.items()):
        await emit_many(session, live_event_id, "question", batch)


async def _emit_question(session: AsyncSession, question: Question, before: Status | None) -> None:
    await session.flush()
    answers = await _answers_for(session, [question.id])
    await emit(
        session,
        question.live_event_id,
        "question",
        _messages(question, answers.get(question.id), before, await askers_of(session, question)),
    )


# --- Reads -------------------------------------------------------------------------------------


async def get(session: AsyncSession, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None:
        raise NotFound(f"no question {question_id}")
    return question


async def list_questions(
    session: AsyncSession,
    live_event: LiveEvent,
    status: Status | None,
    limit: int,
    offset: int,
    filters: QuestionFilters | None = None,
) -> QuestionPage:
    """A page of the LiveEvent's questions: approved ones in queue order, others oldest first."""
    # Read seq first: anything that changes after this is in the log after it, so a client
    # resuming from this seq misses nothing (it may see a change twice, which is harmless).
    seq = await last_seq(session, live_event.id)
    query = select(Question).where(Question.live_event_id == live_event.id)
    if status is not None:
        query = query.where(Question.status == status)
    if filters is not None:
        if filters.category is not None:
            query = query.where(Question.category == filters.category)
        if filters.lang:
            query = query.where(Question.lang == filters.lang)
        if filters.source:
            query = query.where(Question.source == filters.source)
        if filters.q:
            query = query.where(Question.text.icontains(filters.q, autoescape=True))
    if status == Status.pending:
        rows = await _rumours_first(session, query, offset, limit + 1)
    else:
        if status == Status.approved:
            query = query.order_by(Question.queue_position, Question.id)
        else:
            query = query.order_by(Question.id)
        rows = list((await session.scalars(query.offset(offset).limit(limit + 1))).all())
    page = rows[:limit]
    answers = await _answers_for(session, [q.id for q in page])
    askers = await _askers_for(session, [q.id for q in page])
    return QuestionPage(
        seq=seq,
        items=[_full(q, answers.get(q.id), askers.get(q.id, ())) for q in page],
        next_offset=offset + limit if len(rows) > limit else None,
    )


async def _rumours_first(
    session: AsyncSession, query: Select[Question], offset: int, limit: int
) -> list[Question]:
    """``limit`` questions from ``offset`` of the pending ones, rumours first (flagged for
    priority review: a rumour spreads while it waits), each part oldest first.

    Two queries in id order rather than one ordered by "is it a rumour": that one sorts every
    pending question of the LiveEvent on each call, and a flood leaves tens of thousands.
    """
    rumour = Question.category == Category.rumour
    rows = list(
        (
            await session.scalars(
                query.where(rumour).order_by(Question.id).offset(offset).limit(limit)
            )
        ).all()
    )
    if len(rows) == limit:
        return rows
    # Past the rumours: how many there are says where the others start.
    skipped = 0
    if not rows and offset:
        skipped = (
            await session.scalar(select(func.count()).select_from(query.where(rumour).subquery()))
            or 0
        )
    others = query.where(or_(Question.category.is_(None), ~rumour)).order_by(Question.id)
    others = others.offset(max(0, offset - skipped) if not rows else 0).limit(limit - len(rows))
    return rows + list((await session.scalars(others)).all())


async def counts(session: AsyncSession, live_event: LiveEvent) -> QuestionCounts:
    """How many questions per status, and per category among those not archived."""
    seq = await last_seq(session, live_event.id)
    mine = Question.live_event_id == live_event.id
    by_status = dict.fromkeys(Status, 0)
    by_category: dict[str, int] = {}
    # One pass in the order of ix_questions_queue_category, which holds both columns: no table
    # read and no sort, however many questions a flood stored.
    rows = await session.execute(
        select(Question.status, Question.category, func.count())
        .where(mine)
        .group_by(Question.status, Question.category)
    )
    for status, category, n in rows:
        by_status[status] += n
        if status not in (Status.archived, Status.merged):
            name = category.value if category else "uncategorised"
            by_category[name] = by_category.get(name, 0) + n
    groups = await session.execute(
        select(Question.triage_group_id, func.count())
        .where(mine, Question.status != Status.archived, Question.triage_group_id.is_not(None))
        .group_by(Question.triage_group_id)
        .having(func.count() > 1)
    )
    return QuestionCounts(
        seq=seq,
        status={s.value: n for s, n in by_status.items()},
        category=by_category,
        groups={str(group): n for group, n in groups},
    )


async def facets(session: AsyncSession, live_event: LiveEvent) -> QuestionFacets:
    """The languages and sources present, for the console's filters."""
    mine = Question.live_event_id == live_event.id
    languages = await session.scalars(
        select(Question.lang).where(mine, Question.lang != "").distinct().order_by(Question.lang)
    )
    sources = await session.scalars(
        select(Question.source).where(mine).distinct().order_by(Question.source)
    )
    return QuestionFacets(languages=list(languages), sources=list(sources))


# How many answered questions the audience page starts with; older ones are a click away.
PUBLIC_ANSWERED_LIMIT = 100


async def public_snapshot(session: AsyncSession, live_event: LiveEvent) -> PublicSnapshot:
    """The audience's view: the question on air and the answered Q&A, newest first."""
    seq = await last_seq(session, live_event.id)
    on_air = await session.scalar(
        select(Question).where(
            Question.live_event_id == live_event.id, Question.status == Status.on_air
        )
    )
    answered = (
        await session.scalars(
            select(Question)
            .where(Question.live_event_id == live_event.id, Question.status == Status.answered)
            .order_by(Question.status_changed_at.desc(), Question.id.desc())
            .limit(PUBLIC_ANSWERED_LIMIT)
        )
    ).all()
    ids = [q.id for q in answered] + ([on_air.id] if on_air else [])
    answers = await _answers_for(session, ids)
    askers = await _askers_for(session, ids)

    def asked_by(q: Question) -> int:
        return 1 + len(askers.get(q.id, ()))

    return PublicSnapshot(
        seq=seq,
        on_air=_public(on_air, answers.get(on_air.id), asked_by(on_air)) if on_air else None,
        answered=[_public(q, answers.get(q.id), asked_by(q)) for q in answered],
    )


async def history(session: AsyncSession, question_id: int) -> Sequence[Transition]:
    """The question's transitions, and the merges into it and unmerges out of it."""
    rows = await session.scalars(
        select(Transition)
        .where((Transition.question_id == question_id) | (Transition.merged_into_id == question_id))
        .order_by(Transition.id)
    )
    return rows.all()


# --- Writes ------------------------------------------------------------------------------------


async def create(
    session: AsyncSession,
    live_event: LiveEvent,
    *,
    origin: Origin,
    source: str,
    text: str,
    author_name: str = "",
    author_handle: str = "",
    lang: str = "",
    post_id: int | None = None,
    x_post_id: str = "",
    x_conversation_id: str = "",
    x_reply_allowed: bool = False,
) -> Question:
    """A new pending question; moderators see it at once."""
    item = NewQuestion(
        origin=origin,
        source=source,
        text=text,
        author_name=author_name,
        author_handle=author_handle,
        lang=lang,
        post_id=post_id,
        x_post_id=x_post_id,
        x_conversation_id=x_conversation_id,
        x_reply_allowed=x_reply_allowed,
    )
    row = _new_row(live_event, item, utcnow())
    question = (await session.scalars(insert(Question).returning(Question), [row])).one()
    await emit(session, live_event.id, "question", _messages(question, None, None))
    return question


# What a new question starts with besides what NewQuestion says (the columns' defaults, given
# explicitly so that what the screens are told is what was stored).
_NEW_DEFAULTS: dict[str, Any] = {
    "status": Status.pending,
    "category": None,
    "queue_position": 0.0,
    "note": "",
    "merged_into_id": None,
    "status_changed_by": "",
    "version": 1,
}


def _new_row(live_event: LiveEvent, item: NewQuestion, now: datetime) -> dict[str, Any]:
    """Every column of a new pending question."""
    return {
        "live_event_id": live_event.id,
        "origin": item.origin,
        "post_id": item.post_id,
        "source": item.source,
        "author_name": item.author_name,
        "author_handle": item.author_handle,
        "lang": item.lang,
        "x_reply_allowed": item.x_reply_allowed,
        "x_post_id": item.x_post_id,
        "x_conversation_id": item.x_conversation_id,
        "original_text": item.text,
        "text": item.text,
        "created_at": now,
        "status_changed_at": now,
        **_NEW_DEFAULTS,
    }


# The questions table itself: ingest inserts plain rows and never loads them back as objects.
_QUESTIONS = cast(Table, Question.__table__)
_INSERT_QUESTIONS = BulkInsert(
    _QUESTIONS,
    [
        "origin",
        "post_id",
        "source",
        "author_name",
        "author_handle",
        "lang",
        "x_reply_allowed",
        "x_post_id",
        "x_conversation_id",
        "original_text",
        "text",
    ],
    shared=["live_event_id", "created_at", "status_changed_at", *_NEW_DEFAULTS],
    returning=["id", "post_id"],
)


async def create_many(
    session: AsyncSession,
    live_event: LiveEvent,
    new: Sequence[NewQuestion],
    *,
    after: Callable[[], Awaitable[None]] | None = None,
) -> list[QuestionOut]:
    """Many new pending questions in one insert and one run of updates: ingest's fast path
    (thousands of posts a second arrive in batches). The values go in column by column and the
    screens' view is built from them: no ORM object is made or read back. ``after``: as
    realtime.service.emit_many's."""
    if not new:
        return []
    now = utcnow()
    live_event_id = live_event.id
    if all(item.post_id is not None for item in new):
        texts = [item.text for item in new]
        columns = _INSERT_QUESTIONS.columns_of(new, original_text=texts, text=texts)
        shared = {
            "live_event_id": live_event_id,
            "created_at": now,
            "status_changed_at": now,
            **_NEW_DEFAULTS,
        }
        # Matched to their ids by post (unique): RETURNING keeps no order.
        inserted = await _INSERT_QUESTIONS.run(session, columns, shared)
        by_post = {post_id: question_id for question_id, post_id in inserted}
        ids = [by_post[item.post_id] for item in new]
    else:
        # Nothing to match by: RETURNING in parameter order (which SQLite only gives one row
        # per statement). Not ingest's case: every question there has its post.
        rows = [_new_row(live_event, item, now) for item in new]
        returning = insert(_QUESTIONS).returning(_QUESTIONS.c.id, sort_by_parameter_order=True)
        ids = list((await session.scalars(returning, rows)).all())
    views = [
        QuestionOut(
            id=question_id,
            live_event_id=live_event_id,
            origin=item.origin,
            text=item.text,
            original_text=item.text,
            author_name=item.author_name,
            author_handle=item.author_handle,
            source=item.source,
            lang=item.lang,
            created_at=now,
            status_changed_at=now,
            answer=None,  # new questions have no answer yet: no need to look any up
            x_options=publishing.x_options(item),
            **_NEW_DEFAULTS,
        )
        for question_id, item in zip(ids, new, strict=True)
    ]
    await asyncio.sleep(0)  # the event loop's other work goes first (emit_many's comment)
    messages = [_view_messages(v, None) for v in views]
    await emit_many(session, live_event_id, "question", messages, after=after)
    return views


async def ask(
    session: AsyncSession, live_event: LiveEvent, text: str, author_name: str | None
) -> Question:
    """An audience member's question from the Tribune page."""
    if live_event.state == LiveEventState.ended:
        raise Conflict("this Q&A has ended; questions are closed")
    return await create(
        session,
        live_event,
        origin=Origin.audience,
        source="audience",
        text=text,
        author_name=(author_name or "").strip(),
    )


async def _get_for_change(session: AsyncSession, question_id: int) -> Question:
    """The question, read afresh under its LiveEvent's row lock, which is held until commit.

    On PostgreSQL two moderators' transactions run side by side (READ COMMITTED): both would
    read the question as it was, and the later write would then fail the version check with
    nothing to tell its moderator (or, across questions, put two on air). Under the lock,
    changes to a LiveEvent's questions run one after the other, each seeing what the one
    before committed, as SQLite's IMMEDIATE transactions do. It is the lock emit() takes anyway
    (FOR NO KEY UPDATE, as its UPDATE of last_seq does, so inserts referencing the LiveEvent
    are not held up), only taken first: always before any question row, hence no deadlock.
    """
    live_event_id = await session.scalar(
        select(Question.live_event_id).where(Question.id == question_id)
    )
    if live_event_id is None:
        raise NotFound(f"no question {question_id}")
    await session.execute(
        select(LiveEvent.id).where(LiveEvent.id == live_event_id).with_for_update(key_share=True)
    )
    # populate_existing: the route's role check loaded this question before the lock.
    question = await session.scalar(
        select(Question).where(Question.id == question_id).execution_options(populate_existing=True)
    )
    if question is None:
        raise NotFound(f"no question {question_id}")
    return question


def _check_version(question: Question, version: int | None) -> None:
    if version is not None and version != question.version:
        who = f" by {question.status_changed_by}" if question.status_changed_by else ""
        raise Conflict(
            f"question {question.id} was changed{who} since you loaded it "
            f"(it is {question.status.value} now); reload and try again",
            current=question.status.value,
            version=question.version,
        )


async def _flush_or_conflict(session: AsyncSession, question: Question) -> None:
    # Read before the flush: a failed flush rolls the transaction back and expires the object,
    # and loading it again would raise instead of this 409.
    question_id = question.id
    try:
        await session.flush()
    except StaleDataError as exc:
        # Another transaction changed the row between our read and our write.
        raise Conflict(f"question {question_id} was changed by someone else; reload") from exc


# Where the spokesperson takes questions from.
STAGE = frozenset({Status.approved, Status.on_air})


def keep_complaints_off_stage(
    category: Category | None, status: Status, *, recategorising: bool = False
) -> None:
    """Refuse a complaint on the stage: it belongs to the complaints desk until the desk moves
    it to the stage (complaints.service.move_to_stage, which makes it a question).

    The one guard of every path there: each status change goes through ``_move`` and each
    category change through ``edit``, and both call this with what the question would become.
    """
    if category != Category.complaint or status not in STAGE:
        return
    if recategorising:
        raise Conflict(
            f"question is {status.value}: a question on the stage cannot become a complaint. "
            "Take it off the stage (reject or undo) first.",
            category=category.value,
        )
    raise Conflict(
        "this is a complaint: it is handled on the complaints desk, not on the stage. "
        "Move it to the stage from the desk first.",
        category=category.value,
    )


async def _move(
    session: AsyncSession,
    question: Question,
    action: Action,
    to: Status,
    actor: User | None,
    merged_into_id: int | None = None,
    *,
    rule: str = "",
    reason: str = "",
) -> Status:
    keep_complaints_off_stage(question.category, to)
    before = question.status
    question.status = to
    question.status_changed_at = utcnow()
    question.status_changed_by = actor.username if actor else rule
    session.add(
        Transition(
            question_id=question.id,
            action=action.value,
            from_status=before,
            to_status=to,
            actor_id=actor.id if actor else None,
            merged_into_id=merged_into_id,
            by=actor.username if actor else rule,
            reason=reason,
        )
    )
    await _flush_or_conflict(session, question)
    return before


async def _queue_end(session: AsyncSession, live_event_id: int, *, head: bool) -> float:
    edge = func.min if head else func.max
    value = await session.scalar(
        select(edge(Question.queue_position)).where(
            Question.live_event_id == live_event_id, Question.status == Status.approved
        )
    )
    if value is None:
        return 0.0
    return float(value) - 1.0 if head else float(value) + 1.0


async def act(
    session: AsyncSession,
    question_id: int,
    action: Action,
    actor: User,
    version: int | None = None,
) -> Question:
    """Apply a moderation action by the state machine; a 409 says why when it can't be.

    Sending a question on air puts the one on air before it back at the head of the queue.
    """
    if action in (Action.undo, Action.answer, Action.requeue, Action.merge, Action.unmerge):
        raise ValueError(f"{action} has its own function")
    question = await _get_for_change(session, question_id)
    _check_version(question, version)
    try:
        to = next_status(action, question.status)
    except IllegalTransition as exc:
        raise Conflict(str(exc), current=question.status.value) from exc
    # Before the question on air is sent back to the queue for this one.
    keep_complaints_off_stage(question.category, to)
    if action == Action.on_air:
        current = await session.scalar(
            select(Question).where(
                Question.live_event_id == question.live_event_id,
                Question.status == Status.on_air,
            )
        )
        if current is not None:
            current.queue_position = await _queue_end(session, current.live_event_id, head=True)
            before = await _move(session, current, Action.requeue, Status.approved, actor)
            await _emit_question(session, current, before)
    if action == Action.approve:
        question.queue_position = await _queue_end(session, question.live_event_id, head=False)
    before = await _move(session, question, action, to, actor)
    await _emit_question(session, question, before)
    return question


async def act_by_rule(
    session: AsyncSession, question: Question, action: Action, rule: str, reason: str
) -> Status:
    """A moderation action taken by a rule, not a person (triage's auto-reject and
    auto-approve), on a question the caller read under its LiveEvent's lock. The transition
    names the rule and says why; a moderator undoes it as any other. Returns the status before;
    the caller emits (``emit_questions``)."""
    if action not in (Action.approve, Action.reject):
        raise ValueError(f"a rule may approve or reject, not {action}")
    to = next_status(action, question.status)
    if action == Action.approve:
        question.queue_position = await _queue_end(session, question.live_event_id, head=False)
    return await _move(session, question, action, to, None, rule=rule, reason=reason)


async def undo(
    session: AsyncSession, question_id: int, actor: User, version: int | None = None
) -> Question:
    """Revert the question's last transition that is not already undone.

    Undo again to step further back. An answered question whose answer is public stays
    answered: the answer is out, and pretending otherwise would mislead; archive it instead.
    """
    question = await _get_for_change(session, question_id)
    _check_version(question, version)
    last = await session.scalar(
        select(Transition)
        .where(
            Transition.question_id == question.id,
            Transition.action != Action.undo.value,
            Transition.undone.is_(False),
        )
        .order_by(Transition.id.desc())
        .limit(1)
    )
    if last is None or last.to_status != question.status:
        raise Conflict(f"question {question.id} has nothing to undo")
    if last.action in (Action.merge.value, Action.unmerge.value):
        # The other question of the merge changed too: only merge and unmerge keep both right.
        again = "unmerge it" if last.action == Action.merge.value else "merge it again"
        raise Conflict(f"question {question.id} was {last.action}d last; {again} instead")
    if last.action == Action.answer.value:
        raise Conflict("an answer already published cannot be undone; archive the question")
    if last.from_status == Status.on_air:
        someone = await session.scalar(
            select(Question.id).where(
                Question.live_event_id == question.live_event_id,
                Question.status == Status.on_air,
                Question.id != question.id,
            )
        )
        if someone is not None:
            raise Conflict(f"question {someone} is on air now; undo would put two on air")
    last.undone = True
    before = await _move(session, question, Action.undo, last.from_status, actor)
    await _emit_question(session, question, before)
    return question


async def edit(
    session: AsyncSession, question_id: int, data: QuestionEdit, actor: User
) -> Question:
    """Edit text (the original is kept), note, category or queue position."""
    question = await _get_for_change(session, question_id)
    _check_version(question, data.version)
    fields: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"version"})
    if not fields:
        raise Conflict("nothing to change: give text, note, category or queue_position")
    if "category" in fields:
        keep_complaints_off_stage(fields["category"], question.status, recategorising=True)
    if "category" in fields and fields["category"] != question.category:
        # Kept as evaluation data: what triage said, and what the moderator says is right.
        await corrections.record(session, question, fields["category"], actor)
        fields["category_source"] = CategorySource.moderator if fields["category"] else None
    for name, value in fields.items():
        setattr(question, name, value)
    await _flush_or_conflict(session, question)
    await _emit_question(session, question, question.status)
    return question


async def answer(
    session: AsyncSession,
    question_id: int,
    text: str,
    actor: User,
    x_mode: XMode | None = None,
    x_enabled: bool = False,
    reply_to_askers: bool = True,
) -> Answer:
    """Record the spokesperson's answer; the question is then answered on every screen.

    The answer and its deliveries are written in one transaction (the outbox): the page is
    published at once, X (``x_mode``, or the question's default) by the publishing worker.
    One answer serves every asker merged into the question: with ``reply_to_askers``, each
    whose post summoned the account gets a reply thread of their own (publishing.plan).
    """
    question = await _get_for_change(session, question_id)
    try:
        to = next_status(Action.answer, question.status)
    except IllegalTransition as exc:
        raise Conflict(str(exc), current=question.status.value) from exc
    askers = await askers_of(session, question) if reply_to_askers else []
    row = Answer(
        question_id=question.id,
        live_event_id=question.live_event_id,
        text=text,
        author_id=actor.id,
        author_name=actor.display_name or actor.username,
    )
    session.add(row)
    await session.flush()
    live_event = await session.get(LiveEvent, question.live_event_id)
    if live_event is None:
        raise NotFound(f"question {question.id} has no LiveEvent")
    await publishing.plan(session, question, row, live_event, x_mode, x_enabled, askers)
    before = await _move(session, question, Action.answer, to, actor)
    await _emit_question(session, question, before)
    return row


# --- Merging duplicates ------------------------------------------------------------------------


def _touch(question: Question) -> None:
    """Count a change of the questions merged into ``question`` as a change of it: its view
    (its askers) differs, so its version goes up, screens keep the newer view, and a moderator
    acting on the older one gets a 409. (An UPDATE of any column bumps the version.)"""
    flag_modified(question, "merged_into_id")


async def merge(
    session: AsyncSession,
    question_id: int,
    absorbed_ids: Sequence[int],
    actor: User,
    version: int | None = None,
    versions: Sequence[int] | None = None,
) -> Question:
    """Merge duplicates into a question: one answer to it will serve all their askers.

    The absorbed questions leave every queue (status ``merged``) but are kept, with their
    askers, and come back with ``unmerge``. Only questions of the same LiveEvent, pending or
    approved, merge into a question not yet answered; a question that had others merged into
    it brings them along. Each move is in the audit trail and on every screen.
    """
    main = await _get_for_change(session, question_id)
    _check_version(main, version)
    if main.status not in ABSORBING:
        raise Conflict(
            f"question {main.id} is {main.status.value}: only a question not yet answered "
            "takes in others (its answer's replies are planned for the askers it has then)",
            current=main.status.value,
        )
    ids = list(dict.fromkeys(absorbed_ids))
    expected = dict(zip(absorbed_ids, versions, strict=True)) if versions else {}
    if main.id in ids:
        raise Invalid(f"question {main.id} cannot be merged into itself")
    rows = (
        await session.scalars(
            select(Question).where(Question.id.in_(ids)).execution_options(populate_existing=True)
        )
    ).all()
    found = {q.id: q for q in rows}
    for absorbed_id in ids:
        absorbed = found.get(absorbed_id)
        # Another LiveEvent's question is as good as absent: say nothing of it.
        if absorbed is None or absorbed.live_event_id != main.live_event_id:
            raise NotFound(f"no question {absorbed_id} in this LiveEvent")
        _check_version(absorbed, expected.get(absorbed_id))
        if absorbed.merged_into_id == main.id:
            continue  # already there: merging again changes nothing
        if absorbed.status not in MERGEABLE:
            raise Conflict(
                f"question {absorbed_id} is {absorbed.status.value}: only pending or approved "
                "questions can be merged (merge the others into the one on air instead)",
                current=absorbed.status.value,
            )
    moved: list[tuple[Question, Status]] = []
    for absorbed_id in ids:
        absorbed = found[absorbed_id]
        if absorbed.merged_into_id == main.id:
            continue
        # Its own askers follow it, so a group is never more than one level deep.
        for asker in await askers_of(session, absorbed):
            asker.merged_into_id = main.id
            before = await _move(session, asker, Action.merge, Status.merged, actor, main.id)
            moved.append((asker, before))
        absorbed.merged_into_id = main.id
        before = await _move(session, absorbed, Action.merge, Status.merged, actor, main.id)
        moved.append((absorbed, before))
    if moved:
        _touch(main)
        await _flush_or_conflict(session, main)
    # Screens that showed a moved question (the presenter's queue) are told it left.
    for question, before in moved:
        await _emit_question(session, question, before)
    await _emit_question(session, main, main.status)
    return main


async def unmerge(
    session: AsyncSession, question_id: int, actor: User, version: int | None = None
) -> Question:
    """Take a merged question out of its group, back to where it was (pending, or approved at
    the end of the queue). Refused once the group is answered: its reply is the group's."""
    question = await _get_for_change(session, question_id)
    _check_version(question, version)
    if question.status != Status.merged or question.merged_into_id is None:
        raise Conflict(
            f"question {question.id} is not merged into another", current=question.status.value
        )
    main = await session.scalar(
        select(Question)
        .where(Question.id == question.merged_into_id)
        .execution_options(populate_existing=True)
    )
    if main is None:
        raise NotFound(f"no question {question.merged_into_id}")
    answered = await session.scalar(select(Answer.id).where(Answer.question_id == main.id).limit(1))
    # Archived after its answer, the group's answer still went to this asker.
    if main.status == Status.answered or answered is not None:
        raise Conflict(
            f"question {main.id} was answered: its answer served this asker too, so the question "
            "stays with it"
        )
    # Where it was before it first left the queues (a later merge of its group moves it from
    # merged to merged).
    origin = await session.scalar(
        select(Transition.from_status)
        .where(
            Transition.question_id == question.id,
            Transition.action == Action.merge.value,
            Transition.from_status != Status.merged,
        )
        .order_by(Transition.id.desc())
        .limit(1)
    )
    to = origin if origin in MERGEABLE else Status.pending
    if to == Status.approved:
        question.queue_position = await _queue_end(session, question.live_event_id, head=False)
    question.merged_into_id = None
    await _move(session, question, Action.unmerge, to, actor, main.id)
    _touch(main)
    await _flush_or_conflict(session, main)
    await _emit_question(session, question, Status.merged)
    await _emit_question(session, main, main.status)
    return question
