"""The outbox: planning an answer's deliveries, claiming due ones, recording every outcome.

The answer and its deliveries are written in one transaction (questions.service.answer). The
worker (publishing.worker) then sends each due delivery; this module holds the state changes,
each of which the worker commits on its own.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.errors import Conflict
from app.events.models import LiveEvent
from app.ingest.models import X_SOURCE, Post
from app.publishing.models import Attempt, Delivery, DeliveryStatus, XMode
from app.publishing.spend import AnswerSpend, EventSpend, answer_spend, event_spend
from app.publishing.threads import X_MAX_WEIGHTED, split_into_posts, weighted_length
from app.questions.models import Answer, Question

X_TARGET = "x"
PAGE_TARGET = "page"
# A standalone post recalls the question in at most this many characters.
QUESTION_EXCERPT = 90


class Repliable(Protocol):
    """What decides whether X lets us reply: a Question, or one about to be created."""

    @property
    def x_reply_allowed(self) -> bool: ...

    @property
    def x_post_id(self) -> str: ...


def x_thread(
    answer: Answer, question: Question, parts: Sequence[str], reply_to: str
) -> list[Delivery]:
    """An answer's thread on X for one asker (``question``): a Delivery a part, the first
    replying to ``reply_to`` (the asker's post, or "" for a standalone post); the worker
    chains the others to the part before."""
    return [
        Delivery(
            answer_id=answer.id,
            question_id=question.id,
            target=X_TARGET,
            part=number,
            parts=len(parts),
            text=text,
            reply_to=reply_to if number == 1 else "",
        )
        for number, text in enumerate(parts, start=1)
    ]


def x_options(question: Repliable) -> list[XMode]:
    """The ways X allows for this question's answer, best first."""
    options = [XMode.standalone, XMode.page]
    return [XMode.reply, *options] if question.x_reply_allowed and question.x_post_id else options


def default_mode(question: Question, live_event: LiveEvent) -> XMode:
    if question.x_reply_allowed and question.x_post_id:
        return XMode.reply
    return XMode(live_event.x_fallback)


def x_text(question: Question, answer_text: str, mode: XMode) -> str:
    """What goes on X: the answer itself for a reply; for a standalone post, who asked and a
    reminder of the question first, since nobody sees it beside the question."""
    if mode != XMode.standalone:
        return answer_text
    asker = (
        f"@{question.author_handle}"
        if question.author_handle
        else (question.author_name or "A viewer")
    )
    excerpt = " ".join(question.text.split())
    if len(excerpt) > QUESTION_EXCERPT:
        excerpt = excerpt[: QUESTION_EXCERPT - 1].rsplit(" ", 1)[0] + "…"
    return f"{asker} asked: “{excerpt}” {answer_text}"


def repliable_askers(question: Question, askers: Sequence[Question], mode: XMode) -> list[Question]:
    """The askers merged into ``question`` that get a reply of their own on X: those whose post
    summoned the account (X allows no other reply), one per person. Audience-page askers and
    replays have no post to reply to. An asker who is also the question's author already gets
    its answer (``mode``, unless the page only), so is left out."""
    seen: set[str] = set()
    if mode != XMode.page and question.author_handle:
        seen.add(question.author_handle.lower())
    chosen = []
    for asker in askers:
        handle = asker.author_handle.lower()
        if XMode.reply not in x_options(asker) or not handle or handle in seen:
            continue
        seen.add(handle)
        chosen.append(asker)
    return chosen


def asker_reply_parts(asker: Question, answer_text: str) -> list[str]:
    """The thread replying to one merged asker: the answer, every part addressed to them.

    X refuses a post whose text the account already posted ("duplicate content"), and the same
    answer goes to several askers: the asker's @handle on every part keeps each one distinct
    (and tells them it is for them).
    """
    prefix = f"@{asker.author_handle} "
    room = X_MAX_WEIGHTED - weighted_length(prefix)
    return [prefix + part for part in split_into_posts(answer_text, limit=room)]


async def plan(
    session: AsyncSession,
    question: Question,
    answer: Answer,
    live_event: LiveEvent,
    mode: XMode | None,
    x_enabled: bool,
    askers: Sequence[Question] = (),
) -> list[Delivery]:
    """The answer's deliveries, written with it: the page at once, X as a thread of parts, and
    a reply thread to each asker merged into the question whom X lets us reply to (``askers``:
    those to consider; none without X credentials)."""
    rows = [
        Delivery(
            answer_id=answer.id,
            question_id=question.id,
            target=PAGE_TARGET,
            status=DeliveryStatus.published,
        )
    ]
    mode = mode or (default_mode(question, live_event) if x_enabled else XMode.page)
    if mode not in x_options(question):
        raise Conflict(
            "X lets the account reply only to posts that mentioned it; this asker did not. "
            "Choose a standalone post or the Tribune page only.",
            options=[m.value for m in x_options(question)],
        )
    if mode != XMode.page:
        if not x_enabled:
            raise Conflict("no X posting credentials are set; choose the Tribune page only")
        parts = split_into_posts(x_text(question, answer.text, mode))
        reply_to = question.x_post_id if mode == XMode.reply else ""
        rows += x_thread(answer, question, parts, reply_to)
    for asker in repliable_askers(question, askers, mode) if x_enabled else []:
        rows += x_thread(answer, asker, asker_reply_parts(asker, answer.text), asker.x_post_id)
    session.add_all(rows)
    await session.flush()
    return rows


async def due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Delivery]:
    """Deliveries the worker should act on now, oldest first. A later part of a thread waits
    until the previous part is published (it replies to it)."""
    rows = await session.scalars(
        select(Delivery)
        .where(
            Delivery.target == X_TARGET,
            Delivery.status.in_(
                [DeliveryStatus.pending, DeliveryStatus.sending, DeliveryStatus.unknown]
            ),
            Delivery.due_at <= now,
        )
        .order_by(Delivery.answer_id, Delivery.question_id, Delivery.part)
        .limit(limit)
    )
    ready = []
    for row in rows:
        if row.part > 1:
            previous = await previous_part(session, row)
            if previous is None or previous.status != DeliveryStatus.published:
                continue
        ready.append(row)
    return ready


async def previous_part(session: AsyncSession, delivery: Delivery) -> Delivery | None:
    result: Delivery | None = await session.scalar(
        select(Delivery).where(
            Delivery.answer_id == delivery.answer_id,
            Delivery.target == delivery.target,
            Delivery.question_id == delivery.question_id,
            Delivery.part == delivery.part - 1,
        )
    )
    return result


def record(
    session: AsyncSession, delivery: Delivery, action: str, outcome: str, detail: str = ""
) -> None:
    session.add(Attempt(delivery_id=delivery.id, action=action, outcome=outcome, detail=detail))


def retry_later(delivery: Delivery, seconds: float, error: str) -> None:
    delivery.status = DeliveryStatus.pending
    delivery.due_at = utcnow() + timedelta(seconds=seconds)
    delivery.last_error = error


class AskerReplies(BaseModel):
    """The replies an answer would send to the askers merged into its question."""

    # Everyone merged in; of them, those X lets us reply to (they summoned the account).
    askers: int
    replies: int
    posts: int
    usd: Decimal
    url_posts: int


class AnswerPreview(BaseModel):
    """What publishing this answer would do on X, before it is published."""

    mode: XMode
    options: list[XMode]
    parts: list[str]
    spend: AnswerSpend | None
    # None when no question is merged into this one.
    asker_replies: AskerReplies | None = None


def preview(
    question: Question,
    live_event: LiveEvent,
    text: str,
    mode: XMode | None,
    x_enabled: bool,
    askers: Sequence[Question] = (),
    reply_to_askers: bool = True,
) -> AnswerPreview:
    """The posts (thread parts) and the estimated X spend of an answer, as ``plan`` would do,
    the replies to the merged ``askers`` included (none without ``reply_to_askers``)."""
    options = x_options(question)
    mode = mode or (default_mode(question, live_event) if x_enabled else XMode.page)
    if mode not in options:
        raise Conflict(
            "X lets the account reply only to posts that mentioned it; this asker did not.",
            options=[m.value for m in options],
        )
    replies = None
    if askers:
        replying = x_enabled and reply_to_askers
        chosen = repliable_askers(question, askers, mode) if replying else []
        spends = [
            answer_spend(asker_reply_parts(a, text), reply_to_summoner=True)
            for a in (chosen if text.strip() else [])
        ]
        replies = AskerReplies(
            askers=len(askers),
            replies=len(chosen),
            posts=sum(len(s.posts) for s in spends),
            usd=sum((s.usd for s in spends), Decimal(0)),
            url_posts=sum(s.url_posts for s in spends),
        )
    if mode == XMode.page or not text.strip():
        return AnswerPreview(
            mode=mode, options=options, parts=[], spend=None, asker_replies=replies
        )
    parts = split_into_posts(x_text(question, text, mode))
    spend = answer_spend(parts, reply_to_summoner=mode == XMode.reply)
    return AnswerPreview(
        mode=mode, options=options, parts=parts, spend=spend, asker_replies=replies
    )


async def live_event_spend(session: AsyncSession, live_event: LiveEvent) -> EventSpend:
    """X spend so far: every post read from X for this LiveEvent, every answer part posted."""
    posts_read = await session.scalar(
        select(func.count())
        .select_from(Post)
        .where(Post.live_event_id == live_event.id, Post.source == X_SOURCE)
    )
    rows = await session.execute(
        select(
            Delivery.answer_id,
            Delivery.question_id,
            Delivery.part,
            Delivery.text,
            Delivery.reply_to,
        )
        .join(Answer, Answer.id == Delivery.answer_id)
        .where(
            Answer.live_event_id == live_event.id,
            Delivery.target == X_TARGET,
            Delivery.status == DeliveryStatus.published,
        )
        .order_by(Delivery.answer_id, Delivery.question_id, Delivery.part)
    )
    # One thread per answer and asker (a merged question's askers get a thread each).
    by_answer: dict[tuple[int, int], list[tuple[str, bool]]] = {}
    for answer_id, question_id, part, text, reply_to in rows:
        by_answer.setdefault((answer_id, question_id), []).append(
            (text, part == 1 and bool(reply_to))
        )
    answers = [
        answer_spend([text for text, _ in parts], reply_to_summoner=parts[0][1])
        for parts in by_answer.values()
    ]
    return event_spend(int(posts_read or 0), answers, len({a for a, _ in by_answer}))
