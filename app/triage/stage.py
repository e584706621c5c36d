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
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import Notifier, unit_of_work, utcnow
from app.events.models import LiveEvent
from app.ingest.models import X_SOURCE, Post
from app.ops import service as ops
from app.questions import service as questions
from app.questions.models import Category, CategorySource, Question
from app.questions.states import Action, Status
from app.triage import policy, rules, service
from app.triage.schemas import Category as TriageCategory
from app.triage.schemas import Post as TriagePost
from app.triage.schemas import TriageRulesOut

log = logging.getLogger(__name__)

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
# The rule's name on what triage does (Question.status_changed_by, Transition.by).
RULE = "triage"
# Network language codes that name no language (X: undetermined, media only, hashtags only…):
# triage's detection replaces them.
_NO_LANGUAGE = frozenset({"", "und", "zxx", "qme", "qht", "qam", "qct", "qst", "art"})
GROUPED = frozenset(c.value for c in service.GROUPED)
TRIAGE_CATEGORIES = frozenset(c.value for c in TriageCategory)


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
class Known:
    """A triaged question new ones may duplicate."""

    id: int
    text: str
    category: str
    group: int | None


@dataclass(slots=True)
class Verdict:
    category: str
    confidence: float
    lang: str
    group: int | None
    decision: rules.Decision | None


@dataclass(slots=True)
class Plan:
    """What the thread decided, for the write transaction."""

    verdicts: dict[int, Verdict] = field(default_factory=dict)
    # Already triaged questions a new one joined in a group: id → group.
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


def _group_with_context(
    known: Sequence[Known], new: Sequence[Item], categories: Sequence[str], plan: Plan
) -> dict[int, int | None]:
    """Each new question's group: clustered with the LiveEvent's recent triaged questions, so a
    duplicate of one asked minutes ago joins it. A group keeps the id it has; a new group is
    named after its first question. Known questions that join are recorded in ``plan``."""
    texts = [k.text for k in known] + [item.text for item in new]
    cats = [TriageCategory(k.category) for k in known] + [TriageCategory(c) for c in categories]
    labels = service.group(texts, cats)
    members: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        if label is not None:
            members.setdefault(label, []).append(i)
    ids = [k.id for k in known] + [item.id for item in new]
    out: dict[int, int | None] = {item.id: None for item in new}
    for indexes in members.values():
        if all(i < len(known) for i in indexes):
            continue  # only questions triaged before: their groups stay as they are
        old = [known[i] for i in indexes if i < len(known)]
        existing = sorted({k.group for k in old if k.group is not None})
        key = existing[0] if existing else min(ids[i] for i in indexes)
        for i in indexes:
            if i >= len(known):
                out[ids[i]] = key
        for k in old:
            if k.group is None:
                plan.joined[k.id] = key
    return out


def classify(
    batch: Sequence[Item],
    context: dict[int, list[Known]],
    rule_sets: dict[int, TriageRulesOut],
    watch: rules.SameLinkWatch,
) -> Plan:
    """The model's verdicts, duplicate groups and rules' decisions for a batch: the CPU work,
    run in a thread. Pure but for ``watch`` (the stage's own)."""
    plan = Plan()
    by_live_event: dict[int, list[Item]] = {}
    for item in batch:
        by_live_event.setdefault(item.live_event_id, []).append(item)
    now = time.monotonic()
    for live_event_id, items in by_live_event.items():
        verdicts = service.triage([TriagePost(id=str(i.id), text=i.text) for i in items])
        # A moderator's category stands, and the duplicates are looked for within it.
        categories = [
            i.category
            if i.moderator_category and i.category in TRIAGE_CATEGORIES
            else v.category.value
            for i, v in zip(items, verdicts, strict=True)
        ]
        groups = _group_with_context(context.get(live_event_id, []), items, categories, plan)
        stored = rule_sets[live_event_id]
        rule_set = rules.RuleSet.of(
            stored.blocked_words,
            stored.blocked_accounts,
            stored.auto_approve_accounts,
            stored.profanity,
            stored.reject_spam,
        )
        for item, verdict, category in zip(items, verdicts, categories, strict=True):
            accounts = watch.add(live_event_id, item.links, item.account, now) if item.links else 0
            decision = rules.decide(
                rule_set,
                text=item.text,
                handle=item.handle,
                links=item.links,
                accounts_with_link=accounts,
                category=TriageCategory(category),
                confidence=verdict.confidence if category == verdict.category.value else 0.0,
            )
            plan.verdicts[item.id] = Verdict(
                verdict.category.value, verdict.confidence, verdict.lang, groups[item.id], decision
            )
    return plan


async def _read(
    session: AsyncSession, limit: int
) -> tuple[list[Item], dict[int, list[Known]], dict[int, TriageRulesOut]]:
    untriaged = (
        await session.scalars(
            select(Question).where(Question.triaged_at.is_(None)).order_by(Question.id).limit(limit)
        )
    ).all()
    if not untriaged:
        return [], {}, {}
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
    context: dict[int, list[Known]] = {}
    for live_event_id in live_event_ids:
        rows = await session.execute(
            select(Question.id, Question.original_text, Question.category, Question.triage_group_id)
            .where(
                Question.live_event_id == live_event_id,
                Question.triaged_at.is_not(None),
                Question.category.in_([Category(c) for c in GROUPED]),
            )
            .order_by(Question.id.desc())
            .limit(CONTEXT)
        )
        context[live_event_id] = [
            Known(qid, text, str(category), group) for qid, text, category, group in rows
        ][::-1]
    return batch, context, await policy.of_live_events(session, live_event_ids)


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
    for question in fresh:
        verdict = plan.verdicts[question.id]
        before = question.status
        question.triaged_at = now
        question.triage_group_id = verdict.group
        if question.lang in _NO_LANGUAGE:
            question.lang = verdict.lang
        if question.category_source != CategorySource.moderator:
            question.category = Category(verdict.category)
            question.triage_confidence = verdict.confidence
            question.category_source = CategorySource.triage
        decision = verdict.decision
        if decision is not None and question.status == Status.pending:
            question.triage_reason = decision.reason[:200]
            action = Action.reject if decision.action == rules.Action.reject else Action.approve
            await questions.act_by_rule(session, question, action, RULE, decision.reason[:200])
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
            question.triage_group_id = plan.joined[question.id]
            changed.append((question, question.status))
    if changed:
        await questions.emit_questions(session, changed)
    return len(fresh)


async def triage_batch(
    read_maker: async_sessionmaker[AsyncSession],
    maker: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    watch: rules.SameLinkWatch,
    limit: int = BATCH,
) -> int:
    """Triage the oldest untriaged questions, at most ``limit``; how many were triaged (0:
    none waits). The caller holds the lease. ``read_maker``'s sessions only read (on SQLite,
    beside writers), and the read ends before the model runs."""
    async with read_maker() as session:
        batch, context, rule_sets = await _read(session, limit)
    if not batch:
        return 0
    plan = await asyncio.to_thread(classify, batch, context, rule_sets, watch)
    async with unit_of_work(maker, notifier) as session:
        return await _write(session, plan)


class TriageStage:
    """Runs triage in the one worker that holds the "triage" lease; the others stand by."""

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        read_maker: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        *,
        name: str | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._maker = maker
        self._read_maker = read_maker
        self._notifier = notifier
        self.name = name or ops.worker_name()
        self._poll = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._watch = rules.SameLinkWatch()
        self.leading = False
        self.triaged = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tribune-triage")

    async def _take(self) -> bool:
        async with unit_of_work(self._maker, self._notifier) as session:
            return await ops.take(session, LEASE, self.name, LEASE_SECONDS)

    async def _run(self) -> None:
        renewed = 0.0
        while True:
            backlog = False
            try:
                if not self.leading or time.monotonic() - renewed >= LEASE_RENEW_SECONDS:
                    self.leading = await self._take()
                    renewed = time.monotonic()
                # A backlog is worked through batch after batch, the lease renewed on the way.
                while self.leading and time.monotonic() - renewed < LEASE_RENEW_SECONDS:
                    done = await triage_batch(
                        self._read_maker, self._maker, self._notifier, self._watch
                    )
                    self.triaged += done
                    if done == 0:
                        break
                else:
                    backlog = self.leading
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be away for a moment: log, and try again after a pause.
                log.exception("triage round failed")
            if not backlog:
                await asyncio.sleep(self._poll if self.leading else LEASE_RENEW_SECONDS)

    async def stop(self) -> None:
        """Stop, and give the lease up for another worker."""
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
