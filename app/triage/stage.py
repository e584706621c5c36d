"""The triage stage: every new question's category, language and duplicate group, and the
LiveEvent's rules (spam, blocklists, auto-approval), applied after the question is stored.

Ingest stores thousands of posts a second; the model costs a third of a millisecond a post in
a batch (two alone). So it never runs in ingest's transaction: questions are stored untriaged
(``triaged_at`` null), and this stage, run by exactly one worker of the deployment (the holder
of the "triage" lease), takes them oldest first in bounded batches:

1. reads the batch, each LiveEvent's rules and recent triaged questions (the context new ones
   may duplicate), in a short transaction;
2. classifies and groups in a worker thread, with no transaction open: the event loop keeps
   serving (the model's work is a few tens of milliseconds a batch, and releases the GIL at
   least every switch interval);
3. writes every verdict in one transaction, under each LiveEvent's lock as moderators' actions
   take it, and only for questions still untriaged: a question a moderator decided meanwhile
   keeps that decision (and a moderator's category stays), and two stages across a lease's
   change of hands never triage one question twice. The updates go out in it (emit_questions).
"""

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from app.db import Notifier, unit_of_work, utcnow
from app.events.models import LiveEvent
from app.ingest.models import X_SOURCE, Post
from app.ops import service as ops
from app.questions import service as questions
from app.questions.models import Category, CategorySource, Question
from app.questions.states import Action, Status
from app.triage import judge, policy, rules
from app.triage.schemas import Category as TriageCategory
from app.triage.schemas import TriageRulesOut

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE = "triage"
# As the ingest sources' leases (ingest/runner.py): renewed every 2 s, lost 6 s after its
# holder stops renewing, so triage resumes within 8 s of its worker's death.
LEASE_SECONDS = 6.0
LEASE_RENEW_SECONDS = 2.0
# Questions per batch: the model's cost per post falls with the batch (a third of a
# millisecond at a few hundred, two alone), and the write transaction, which holds the
# LiveEvents' locks, stays short (tens of milliseconds).
BATCH = 200
# Triaged questions of a LiveEvent a new one is compared with for duplicates: the latest this
# many. Clustering grows with the square of it; 300 is a live chat's last several minutes.
CONTEXT = 300
# How often an idle stage looks for new questions: triage shows up this long after a question.
POLL_SECONDS = 0.3
# After a failed batch: the database or the model's process gets this long to come back.
RETRY_SECONDS = 2.0
# After each batch, a pause this many times as long as the batch took (1: busy half the time).
BUSY_PAUSE = 1.0
# A worker starts leading triage this long after it starts: a restart's first seconds go to
# what people wait for (sockets reconnecting, sources resuming), not to the model's training.
START_DELAY_SECONDS = 5.0
# The rule's name on what triage does (Question.status_changed_by, Transition.by).
RULE = "triage"
# Network language codes that name no language (X: undetermined, media only, hashtags only…):
# triage's detection replaces them.
_NO_LANGUAGE = frozenset({"", "und", "zxx", "qme", "qht", "qam", "qct", "qst", "art"})


_QUESTIONS = cast(Table, Question.__table__)


# Runs judge.judge (or judge.warm) somewhere that is not the event loop: a worker process in the
# stage, a thread when none is given (tests, scripts).
class Runner(Protocol):
    def __call__(self, function: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


@dataclass(slots=True)
class Item:
    """A question to triage, as read in the first transaction."""

    id: int
    live_event_id: int
    text: str
    handle: str
    account: str  # who posted it, for "the same link from many accounts"
    links: list[str]
    category: str | None  # a moderator's, if one set it before triage
    moderator_category: bool


@dataclass(slots=True)
class Plan:
    """What is to be written: the model's verdicts and the rules' decisions."""

    verdicts: dict[int, judge.Verdict] = field(default_factory=dict)
    decisions: dict[int, rules.Decision] = field(default_factory=dict)
    joined: dict[int, int] = field(default_factory=dict)


def _links(question: Question, raw: dict[str, object] | None) -> list[str]:
    """The question's links; on X, where every link is wrapped in t.co, the expanded ones."""
    found = rules.links_in(question.original_text)
    if raw is None:
        return found
    data = raw.get("data")
    entities = data.get("entities") if isinstance(data, dict) else None
    urls = entities.get("urls") if isinstance(entities, dict) else None
    if not isinstance(urls, list):
        return found
    expanded = [
        str(u["expanded_url"]) for u in urls if isinstance(u, dict) and u.get("expanded_url")
    ]
    wrapped = {str(u.get("url", "")) for u in urls if isinstance(u, dict)}
    return [link for link in found if link not in wrapped] + expanded


def classify(
    batch: Sequence[Item],
    judgement: judge.Judgement,
    rule_sets: dict[int, TriageRulesOut],
    watch: rules.SameLinkWatch,
) -> Plan:
    """The LiveEvents' rules applied to the judged batch (cheap: set lookups and regexes)."""
    plan = Plan(verdicts=judgement.verdicts, joined=judgement.joined)
    compiled = {
        live_event_id: rules.RuleSet.of(
            stored.blocked_words,
            stored.blocked_accounts,
            stored.auto_approve_accounts,
            stored.profanity,
            stored.reject_spam,
        )
        for live_event_id, stored in rule_sets.items()
    }
    now = time.monotonic()
    for item in batch:
        verdict = judgement.verdicts[item.id]
        accounts = watch.add(item.live_event_id, item.links, item.account, now) if item.links else 0
        # A moderator's category stands: the model's spam verdict does not count then.
        model_spam = not item.moderator_category
        decision = rules.decide(
            compiled[item.live_event_id],
            text=item.text,
            handle=item.handle,
            links=item.links,
            accounts_with_link=accounts,
            category=TriageCategory(verdict.category),
            confidence=verdict.confidence if model_spam else 0.0,
        )
        if decision is not None:
            plan.decisions[item.id] = decision
    return plan


async def _read(
    session: AsyncSession, limit: int
) -> tuple[list[Item], list[judge.Case], dict[int, TriageRulesOut]]:
    untriaged = (
        await session.scalars(
            select(Question).where(Question.triaged_at.is_(None)).order_by(Question.id).limit(limit)
        )
    ).all()
    if not untriaged:
        return [], [], {}
    post_ids = [q.post_id for q in untriaged if q.post_id is not None and q.source == X_SOURCE]
    raws: dict[int, dict[str, object]] = {}
    if post_ids:
        for post_id, raw in await session.execute(
            select(Post.id, Post.raw).where(Post.id.in_(post_ids))
        ):
            raws[post_id] = raw
    batch = [
        Item(
            id=q.id,
            live_event_id=q.live_event_id,
            text=q.original_text,
            handle=q.author_handle,
            account=f"{q.source}:{q.author_handle or q.author_name}",
            links=_links(q, raws.get(q.post_id) if q.post_id is not None else None),
            category=q.category.value if q.category is not None else None,
            moderator_category=q.category_source == CategorySource.moderator,
        )
        for q in untriaged
    ]
    live_event_ids = sorted({q.live_event_id for q in untriaged})
    cases = []
    for live_event_id in live_event_ids:
        rows = await session.execute(
            select(Question.id, Question.original_text, Question.category, Question.triage_group_id)
            .where(
                Question.live_event_id == live_event_id,
                Question.triaged_at.is_not(None),
                # Every category the model knows: it groups those it groups (service.GROUPED).
                Question.category.in_([Category(c.value) for c in TriageCategory]),
            )
            .order_by(Question.id.desc())
            .limit(CONTEXT)
        )
        known = [
            judge.Known(qid, text, str(category), group) for qid, text, category, group in rows
        ]
        new = [
            judge.New(i.id, i.text, i.category if i.moderator_category else None)
            for i in batch
            if i.live_event_id == live_event_id
        ]
        cases.append(judge.Case(new, known[::-1]))
    return batch, cases, await policy.of_live_events(session, live_event_ids)


async def _write(session: AsyncSession, plan: Plan) -> int:
    """Store the plan for questions still untriaged; emit their updates. How many were."""
    ids = sorted(plan.verdicts)
    live_event_ids = sorted(
        set(await session.scalars(select(Question.live_event_id).where(Question.id.in_(ids))))
    )
    # The lock moderators' changes take first (questions.service._get_for_change), in id order.
    for live_event_id in live_event_ids:
        await session.execute(
            select(LiveEvent.id)
            .where(LiveEvent.id == live_event_id)
            .with_for_update(key_share=True)
        )
    fresh = (
        await session.scalars(
            select(Question)
            .where(Question.id.in_(ids), Question.triaged_at.is_(None))
            .execution_options(populate_existing=True)
        )
    ).all()
    now = utcnow()
    changed: list[tuple[Question, Status | None]] = []
    findings: list[tuple[Question, dict[str, Any]]] = []
    by_rule: list[tuple[Question, rules.Decision]] = []
    for question in fresh:
        verdict = plan.verdicts[question.id]
        before = question.status
        found: dict[str, Any] = {"triaged_at": now, "triage_group_id": verdict.group}
        if question.lang in _NO_LANGUAGE:
            found["lang"] = verdict.lang
        category = Category(verdict.category)
        # A moderator's category stands; so does a moderator's choice to put the question on
        # the stage before triage saw it: a complaint is never on the stage (the desk moves it).
        if question.category_source != CategorySource.moderator and not (
            category == Category.complaint and question.status in questions.STAGE
        ):
            found |= {
                "category": category,
                "triage_confidence": verdict.confidence,
                "category_source": CategorySource.triage,
            }
        decision = plan.decisions.get(question.id)
        if (
            decision is not None
            and decision.action == rules.Action.approve
            and found.get("category", question.category) == Category.complaint
        ):
            decision = None  # a listed account's complaint still goes to the desk, not the stage
        if decision is not None and question.status == Status.pending:
            found["triage_reason"] = decision.reason[:200]
            by_rule.append((question, decision))
        findings.append((question, found))
        changed.append((question, before))
    if plan.joined:
        joining = (
            await session.scalars(
                select(Question)
                .where(Question.id.in_(plan.joined), Question.triage_group_id.is_(None))
                .execution_options(populate_existing=True)
            )
        ).all()
        for question in joining:
            findings.append((question, {"triage_group_id": plan.joined[question.id]}))
            changed.append((question, question.status))
    await _write_findings(session, findings)
    for question, decision in by_rule:
        action = Action.reject if decision.action == rules.Action.reject else Action.approve
        await questions.act_by_rule(session, question, action, RULE, decision.reason[:200])
    if changed:
        await questions.emit_questions(session, changed)
    return len(fresh)


async def _write_findings(
    session: AsyncSession, findings: Sequence[tuple[Question, dict[str, Any]]]
) -> None:
    """Write what triage found without bumping the questions' versions: the version is the
    moderators' optimistic lock, and triage's fields are none they edit (a moderator's
    category is never overwritten). Bumped, every question a moderator opened before triage
    saw it would refuse their edit as "changed by someone else". The objects are told the new
    values as committed ones, so a rule's action flushes only its own change.

    One executemany per set of fields (a batch has a handful): a statement per question cost
    the server's event loop about a millisecond of CPU each, in the middle of a flood.
    """
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for question, values in findings:
        fields = tuple(sorted(values))
        by_fields.setdefault(fields, []).append(
            {"question_id": question.id, **{f"new_{name}": values[name] for name in fields}}
        )
        for name, value in values.items():
            set_committed_value(question, name, value)
    for fields, rows in by_fields.items():
        await session.execute(
            update(_QUESTIONS)
            .where(_QUESTIONS.c.id == bindparam("question_id"))
            .values({name: bindparam(f"new_{name}") for name in fields}),
            rows,
        )


async def _in_thread(function: Callable[..., T], /, *args: Any) -> T:
    return await asyncio.to_thread(function, *args)


async def triage_batch(
    read_maker: async_sessionmaker[AsyncSession],
    maker: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    watch: rules.SameLinkWatch,
    limit: int = BATCH,
    run: Runner = _in_thread,
) -> int:
    """Triage the oldest untriaged questions, at most ``limit``; how many were triaged (0:
    none waits). The caller holds the lease. ``read_maker``'s sessions only read (on SQLite,
    beside writers), and the read ends before the model runs (``run``: in a thread unless
    the caller has a process for it)."""
    async with read_maker() as session:
        batch, cases, rule_sets = await _read(session, limit)
    if not batch:
        return 0
    judgement: judge.Judgement = await run(judge.judge, cases)
    plan = classify(batch, judgement, rule_sets, watch)
    async with unit_of_work(maker, notifier) as session:
        return await _write(session, plan)


class TriageStage:
    """Runs triage in the one worker that holds the "triage" lease; the others stand by.

    The model runs in a process of its own, started at the first question this worker triages:
    its import, training and work never hold the server's GIL, and it runs at a lower CPU
    priority than the server, so that requests come first.
    """

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        read_maker: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        *,
        name: str | None = None,
        poll_seconds: float = POLL_SECONDS,
        start_delay: float = START_DELAY_SECONDS,
    ) -> None:
        self._maker = maker
        self._read_maker = read_maker
        self._notifier = notifier
        self.name = name or ops.worker_name()
        self._poll = poll_seconds
        self._start_delay = start_delay
        self._task: asyncio.Task[None] | None = None
        self._watch = rules.SameLinkWatch()
        self._pool: ProcessPoolExecutor | None = None
        self.leading = False
        self.triaged = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tribune-triage")

    async def _take(self) -> bool:
        async with unit_of_work(self._maker, self._notifier) as session:
            return await ops.take(session, LEASE, self.name, LEASE_SECONDS)

    async def _in_process(self, function: Callable[..., T], /, *args: Any) -> T:
        if self._pool is None:
            # spawn: a fresh interpreter that imports the model alone (a fork would copy the
            # server's threads and connections).
            self._pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=judge.start_worker
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        except BrokenProcessPool:
            # The worker died (killed, out of memory): a new one at the next batch.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise

    async def _run(self) -> None:
        """Lead while holding the lease, renewed every LEASE_RENEW_SECONDS whatever a batch
        takes (the model's first training lasts longer than the lease)."""
        await asyncio.sleep(self._start_delay)
        work: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    self.leading = await self._take()
                except Exception:
                    # The database may be away for a moment: stop working until it is back.
                    log.exception("triage lease round failed")
                    self.leading = False
                if self.leading and work is None:
                    work = asyncio.create_task(self._work(), name="tribune-triage-work")
                elif not self.leading and work is not None:
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await work
                    work = None
                await asyncio.sleep(LEASE_RENEW_SECONDS)
        finally:
            if work is not None:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work

    async def _work(self) -> None:
        while True:
            done = 0
            started = time.monotonic()
            try:
                done = await triage_batch(
                    self._read_maker, self._maker, self._notifier, self._watch, run=self._in_process
                )
                self.triaged += done
                # Through a flood, a pause as long as the batch took: moderators' requests and
                # ingest's transactions (SQLite has one writer) come first, and triage still
                # keeps up with a busy chat (hundreds of questions a second).
                if done:
                    await asyncio.sleep((time.monotonic() - started) * BUSY_PAUSE)
            except Exception:
                # A database hiccup, or the model's process died: log, and try again soon.
                log.exception("triage batch failed")
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if done == 0:
                await asyncio.sleep(self._poll)

    async def stop(self) -> None:
        """Stop, give the lease up for another worker, and end the model's process."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.leading:
            with contextlib.suppress(Exception):
                async with unit_of_work(self._maker, self._notifier) as session:
                    await ops.release(session, LEASE, self.name)
            self.leading = False
        if self._pool is not None:
            pool, self._pool = self._pool, None
            # Not waiting for a batch or the model's training (seconds): the worker holds no
            # transaction and writes nothing, so it is stopped where it stands.
            workers = list(pool._processes.values()) if pool._processes else []
            pool.shutdown(wait=False, cancel_futures=True)
            for worker in workers:
                worker.terminate()
