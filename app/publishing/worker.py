"""The publishing worker: sends due deliveries to X, exactly once.

Each step commits on its own, in this order, so a crash anywhere leaves a state that says what
to do next:

1. ``sending`` is committed before the request leaves;
2. the post is created on X;
3. ``published`` (with the post's id and URL) is committed.

A delivery found ``sending`` once its claim lapsed (the worker died between 1 and 3) or
``unknown`` (a timeout, a 5xx, a "duplicate" refusal) is reconciled first: the account's recent
posts are searched for the exact text, and only when it is certainly absent is it sent again. X
has no idempotency key, so this lookup is what makes "never a double post" hold.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
import tweepy
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.complaints import service as complaints
from app.db import Notifier, unit_of_work, utcnow
from app.events.models import LiveEvent
from app.ingest.sources.x_common import Backoff
from app.publishing import service
from app.publishing.models import Attempt, Delivery, DeliveryStatus
from app.publishing.targets.x import XTarget
from app.questions.models import Answer, Question
from app.questions.service import emit_question
from app.x.client import DEFAULT_TIMEOUT, XCredentials

log = logging.getLogger(__name__)

# How many due deliveries one pass takes.
BATCH = 20
# How long X's recent search may lag behind a post (X_API.md: about 30 s). A lookup that finds
# nothing sooner than this after the send proves nothing yet.
SEARCH_LAG_SECONDS = 35.0
# "duplicate content" is how X refuses a text the account already posted: maybe ours.
DUPLICATE = "duplicate content"
# A claim lasts as long as the send may (connect and read timeouts) plus this margin: until
# then, the delivery is its claimant's, and no other worker reconciles it in mid-flight.
CLAIM_MARGIN_SECONDS = 2.0


class Crash(Exception):
    """Raised by a fault hook to stop the worker dead at a given step (tests only)."""


Faults = Callable[[str], None]


class PublishingWorker:
    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        credentials: XCredentials,
        base_url: str,
        *,
        backoff_scale: float = 1.0,
        poll_seconds: float = 0.5,
        faults: Faults | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        post_url: str = "https://x.com/{handle}/status/{id}",
        claim_seconds: float | None = None,
    ) -> None:
        self._maker = maker
        self._notifier = notifier
        self._credentials = credentials
        self._base_url = base_url
        self._scale = backoff_scale
        self._poll = poll_seconds
        self._faults = faults
        self._timeout = timeout
        self._post_url = post_url
        self._claim = (
            sum(timeout) + CLAIM_MARGIN_SECONDS if claim_seconds is None else claim_seconds
        )
        self._targets: dict[str, XTarget] = {}

    def _fault(self, point: str) -> None:
        if self._faults is not None:
            self._faults(point)

    def _target(self, handle: str) -> XTarget:
        if handle not in self._targets:
            self._targets[handle] = XTarget(
                self._credentials, self._base_url, handle, self._timeout, self._post_url
            )
        return self._targets[handle]

    async def run(self) -> None:
        """Forever: a pass, then a pause. A failing pass is logged and retried."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("publishing pass failed")
            await asyncio.sleep(self._poll)

    async def run_once(self) -> int:
        """Act on every due delivery once; how many were acted on."""
        async with self._maker() as session:
            ids = [d.id for d in await service.due(session, utcnow(), BATCH)]
        for delivery_id in ids:
            await self._step(delivery_id)
        return len(ids)

    async def _context(
        self, session: AsyncSession, delivery_id: int
    ) -> tuple[Delivery, Question, LiveEvent] | None:
        delivery = await session.get(Delivery, delivery_id)
        if delivery is None:
            return None
        # The question this thread answers: the answer's own, or one merged into it, whose
        # conversation is where the reply (and a lost outcome) is.
        question = await session.get(Question, delivery.question_id)
        live_event = await session.get(LiveEvent, question.live_event_id) if question else None
        if question is None or live_event is None:
            return None
        return delivery, question, live_event

    async def _step(self, delivery_id: int) -> None:
        async with self._maker() as session:
            context = await self._context(session, delivery_id)
            if context is None:
                return
            delivery, question, live_event = context
            status, text, part = delivery.status, delivery.text, delivery.part
            reply_to = delivery.reply_to
            if part > 1:
                previous = await service.previous_part(session, delivery)
                reply_to = previous.external_id if previous else ""
            conversation = self._conversation(question, reply_to)
            handle = live_event.answering_handle
        target = self._target(handle)
        if status in (DeliveryStatus.sending, DeliveryStatus.unknown):
            await self._reconcile(delivery_id, target, text, conversation)
            return
        # 1. Claim it and say we are sending, durably, before anything leaves. One conditional
        # UPDATE: of several workers that saw it pending, exactly one moves it to sending. The
        # claim's due time is when its send has certainly ended: a "sending" delivery is
        # reconciled by another worker only after it (its claimant died), never in mid-flight,
        # when the search would find nothing yet and the post would be sent a second time.
        async with unit_of_work(self._maker, self._notifier) as session:
            claimed = await session.scalar(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.pending)
                .values(
                    status=DeliveryStatus.sending,
                    attempts=Delivery.attempts + 1,
                    due_at=utcnow() + timedelta(seconds=self._claim),
                )
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
            if claimed is None:
                return  # another worker has it, or it changed since we looked
            row = await session.get(Delivery, delivery_id, populate_existing=True)
            if row is None:
                return
            service.record(session, row, "send", "started")
        self._fault("before_send")
        # 2. Send.
        try:
            posted = await asyncio.to_thread(target.create, text, reply_to)
        except tweepy.TooManyRequests as exc:
            reset = exc.reset_time or 0
            wait = max(1.0, reset - utcnow().timestamp()) if reset else 60.0 * self._scale
            await self._settle(
                delivery_id, "rate_limited", f"429; again in {wait:.0f} s", retry_in=wait
            )
            return
        except tweepy.Forbidden as exc:
            if DUPLICATE in str(exc).lower():
                await self._settle(
                    delivery_id, "unknown", "X says duplicate: checking", unknown=True
                )
            else:
                await self._fail(delivery_id, _forbidden_reason(exc, handle))
            return
        except (tweepy.BadRequest, tweepy.Unauthorized, tweepy.NotFound) as exc:
            await self._fail(delivery_id, f"X refused the post: {_brief(exc)}")
            return
        except (tweepy.TwitterServerError, tweepy.HTTPException, requests.RequestException) as exc:
            # X may or may not have taken it: find out before sending again.
            await self._settle(
                delivery_id, "unknown", f"{type(exc).__name__}: outcome unknown", unknown=True
            )
            return
        self._fault("after_send")
        # 3. Record the post.
        async with unit_of_work(self._maker, self._notifier) as session:
            row = await session.get(Delivery, delivery_id)
            if row is None:
                return
            self._published(session, row, posted.id, posted.url, "send")
            await self._emit(session, row)
            self._fault("before_commit")

    async def _reconcile(
        self, delivery_id: int, target: XTarget, text: str, conversation: str
    ) -> None:
        try:
            found = await asyncio.to_thread(target.find, text, conversation)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            await self._settle(
                delivery_id,
                "reconcile_failed",
                _brief(exc),
                unknown=True,
                retry_in=Backoff(scale=self._scale).http_error(500),
            )
            return
        async with unit_of_work(self._maker, self._notifier) as session:
            row = await session.get(Delivery, delivery_id)
            if row is None or row.status not in (DeliveryStatus.sending, DeliveryStatus.unknown):
                return
            if found is not None:
                self._published(session, row, found.id, found.url, "reconcile")
                await self._emit(session, row)
                return
            sent_at = await self._last_send(session, row)
            lag = SEARCH_LAG_SECONDS * self._scale
            if sent_at is not None and (utcnow() - sent_at).total_seconds() < lag:
                row.status = DeliveryStatus.unknown
                row.due_at = sent_at + timedelta(seconds=lag)
                service.record(session, row, "reconcile", "too_soon", "search may lag; wait")
                return
            # Certainly not on X: send it again.
            service.record(session, row, "reconcile", "absent", "not on X: will send")
            service.retry_later(row, 0, "previous attempt did not reach X")

    async def _last_send(self, session: AsyncSession, row: Delivery) -> datetime | None:
        started: datetime | None = await session.scalar(
            select(Attempt.started_at)
            .where(Attempt.delivery_id == row.id, Attempt.action == "send")
            .order_by(Attempt.id.desc())
            .limit(1)
        )
        return started

    def _published(
        self, session: AsyncSession, row: Delivery, post_id: str, url: str, action: str
    ) -> None:
        row.status = DeliveryStatus.published
        row.external_id, row.url, row.last_error = post_id, url, ""
        service.record(session, row, action, "published", post_id)

    async def _settle(
        self,
        delivery_id: int,
        outcome: str,
        detail: str,
        *,
        unknown: bool = False,
        retry_in: float = 0.0,
    ) -> None:
        async with unit_of_work(self._maker, self._notifier) as session:
            row = await session.get(Delivery, delivery_id)
            if row is None:
                return
            service.record(session, row, "send", outcome, detail)
            if unknown:
                row.status = DeliveryStatus.unknown
                row.due_at = utcnow() + timedelta(seconds=retry_in)
                row.last_error = detail
            else:
                service.retry_later(row, retry_in, detail)
            await self._emit(session, row)

    async def _fail(self, delivery_id: int, reason: str) -> None:
        async with unit_of_work(self._maker, self._notifier) as session:
            row = await session.get(Delivery, delivery_id)
            if row is None:
                return
            row.status = DeliveryStatus.failed
            row.last_error = reason
            service.record(session, row, "send", "failed", reason)
            # The rest of a thread replies to this part: it cannot go out either.
            later = await session.scalars(
                select(Delivery).where(
                    Delivery.answer_id == row.answer_id,
                    Delivery.target == row.target,
                    Delivery.part > row.part,
                    Delivery.status == DeliveryStatus.pending,
                )
            )
            for part in later:
                part.status = DeliveryStatus.failed
                part.last_error = f"part {row.part} failed: {reason}"
            await self._emit(session, row)

    async def _emit(self, session: AsyncSession, row: Delivery) -> None:
        answer = await session.get(Answer, row.answer_id)
        if answer is not None:
            question = await session.get(Question, answer.question_id)
            if question is not None:
                await emit_question(session, question)
            # A complaint's follow-up: the desk shows how its reply went.
            await complaints.emit_case_of_answer(session, answer)

    @staticmethod
    def _conversation(question: Question, reply_to: str) -> str:
        if not reply_to:
            return ""
        # Replies to the asker (and the thread after them) live in the asker's conversation.
        return question.x_conversation_id or question.x_post_id


def _brief(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _forbidden_reason(exc: tweepy.Forbidden, handle: str) -> str:
    text = _brief(exc)
    if "mentioned" in text or "engaged" in text:
        return (
            f"X refused the reply: the asker did not mention @{handle}, so the account may not "
            "reply (X's rule since 2026-02). Answer again as a standalone post, or on the "
            "Tribune page only."
        )
    return f"X refused the post (403): {text}"
