"""The complaints desk: cases, their SLA, assignees and statuses, follow-ups to the asker,
"move to stage", and the CSV export for customer service."""

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role, User
from app.charter import service as charter
from app.charter.schemas import Network, Severity, TemplateKind
from app.complaints.models import (
    DEFAULT_SLA_MINUTES,
    CaseChange,
    CaseStatus,
    ComplaintCase,
    DeskSettings,
)
from app.complaints.schemas import (
    CaseEdit,
    CaseOut,
    DeskOut,
    DeskSettingsIn,
    DeskSettingsOut,
    DeskTotals,
    FollowupCheck,
    FollowupIn,
    FollowupOut,
    FollowupProblem,
    FollowupProposal,
    FollowupTemplate,
)
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.events.models import LiveEvent, TeamMember
from app.publishing import service as publishing
from app.publishing.models import Delivery
from app.publishing.service import X_TARGET
from app.publishing.spend import answer_spend
from app.publishing.threads import X_MAX_WEIGHTED, split_into_posts, weighted_length
from app.questions import service as questions
from app.questions.models import Answer, Category, Question
from app.questions.schemas import DeliveryOut
from app.realtime.schemas import Channel
from app.realtime.service import emit, last_seq

# The networks a follow-up can be checked for: an X reply, or text copied by hand.
X_NETWORK = "x"
COPY_NETWORK = "copy"
FOLLOWUP_ACTIONS = ("followup_reply", "followup_copied")
# What the desk lists: the unresolved cases due first (every one, unless a flood leaves more
# than this many unanswered), and the newest resolved ones. A capped desk must never hide the
# most urgent complaints, as a list of the newest would. The CSV export has them all.
DESK_OPEN_LIMIT = 2000
DESK_RESOLVED_LIMIT = 200
# The export reads complaints this many at a time (their views need a few queries each time).
EXPORT_CHUNK = 500

# --- Settings ----------------------------------------------------------------------------------


async def _settings_row(session: AsyncSession, live_event_id: int) -> DeskSettings:
    row = await session.get(DeskSettings, live_event_id)
    # Not added to the session: a LiveEvent without a row simply has the defaults.
    return row or DeskSettings(live_event_id=live_event_id, sla_minutes=DEFAULT_SLA_MINUTES)


async def desk_settings(session: AsyncSession, live_event: LiveEvent) -> DeskSettingsOut:
    """The LiveEvent's desk settings: its SLA (the default until set)."""
    return DeskSettingsOut.model_validate(await _settings_row(session, live_event.id))


async def update_settings(
    session: AsyncSession, live_event: LiveEvent, data: DeskSettingsIn
) -> DeskSettingsOut:
    """Change the desk's settings; every desk screen reloads its timers."""
    await _lock(session, live_event.id)
    row = await session.get(DeskSettings, live_event.id)
    if row is None:
        row = await _settings_row(session, live_event.id)
        session.add(row)
    fields = data.model_dump(exclude_unset=True)
    if not fields:
        raise Conflict("nothing to change: give sla_minutes")
    for name, value in fields.items():
        setattr(row, name, value)
    await session.flush()
    view = DeskSettingsOut.model_validate(row)
    await emit(
        session,
        live_event.id,
        "desk.settings",
        {Channel.moderation: {"settings": view}, Channel.presenter: None, Channel.public: None},
    )
    return view


# --- Views -------------------------------------------------------------------------------------


def reply_possible(question: Question) -> bool:
    """X lets the account reply only to a post whose author summoned it (X_API.md)."""
    return question.source == X_NETWORK and question.x_reply_allowed and bool(question.x_post_id)


def _due(question: Question, settings: DeskSettings) -> datetime:
    # The customer has waited since they posted, whoever noticed it was a complaint and when.
    return question.created_at + timedelta(minutes=settings.sla_minutes)


async def _views(
    session: AsyncSession,
    pairs: Sequence[tuple[Question, ComplaintCase | None]],
    settings: DeskSettings,
) -> list[CaseOut]:
    """The desk's view of each (question, case) pair, in a few queries for all of them."""
    now = utcnow()
    case_ids = [case.id for _, case in pairs if case is not None]
    user_ids = {case.assignee_id for _, case in pairs if case and case.assignee_id}
    names: dict[int, str] = {}
    if user_ids:
        rows = await session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
        names = {int(row[0]): str(row[1]) for row in rows}
    followups: dict[int, list[CaseChange]] = {}
    deliveries: dict[int, list[DeliveryOut]] = {}
    if case_ids:
        changes = await session.scalars(
            select(CaseChange)
            .where(CaseChange.case_id.in_(case_ids), CaseChange.action.in_(FOLLOWUP_ACTIONS))
            .order_by(CaseChange.id)
        )
        for change in changes:
            followups.setdefault(change.case_id, []).append(change)
        answer_ids = [c.answer_id for cs in followups.values() for c in cs if c.answer_id]
        if answer_ids:
            rows_ = await session.scalars(
                select(Delivery)
                .where(Delivery.answer_id.in_(answer_ids), Delivery.target == X_TARGET)
                .order_by(Delivery.id)
            )
            for d in rows_:
                deliveries.setdefault(d.answer_id, []).append(DeliveryOut.model_validate(d))
    views = []
    for question, case in pairs:
        due = _due(question, settings)
        status = case.status if case else CaseStatus.open
        responded = case.first_response_at if case else None
        views.append(
            CaseOut(
                question_id=question.id,
                live_event_id=question.live_event_id,
                case_id=case.id if case else None,
                text=question.text,
                author_name=question.author_name,
                author_handle=question.author_handle,
                source=question.source,
                lang=question.lang,
                question_status=question.status.value,
                on_desk=question.category == Category.complaint,
                received_at=question.created_at,
                status=status,
                assignee=names.get(case.assignee_id) if case and case.assignee_id else None,
                notes=case.notes if case else "",
                due_at=due,
                overdue=responded is None and status != CaseStatus.resolved and now > due,
                first_response_at=responded,
                resolved_at=case.resolved_at if case else None,
                moved_to_stage_at=case.moved_to_stage_at if case else None,
                resolution=case.resolution if case else "",
                can_reply=reply_possible(question),
                followups=[
                    FollowupOut(
                        via="x_reply" if change.action == "followup_reply" else "copied",
                        text=change.after,
                        by=change.actor_name,
                        at=change.at,
                        deliveries=deliveries.get(change.answer_id, []) if change.answer_id else [],
                    )
                    for change in (followups.get(case.id, []) if case else [])
                ],
                version=case.version if case else 0,
            )
        )
    return views


def _complaints(live_event: LiveEvent) -> Select[Question, ComplaintCase]:
    """The LiveEvent's complaints with their cases (None until first handled).

    A complaint is a question whose category is complaint; one the desk moved to the stage is
    a question now, and stays listed through its (closed) case.
    """
    return (
        select(Question, ComplaintCase)
        .outerjoin(ComplaintCase, ComplaintCase.question_id == Question.id)
        .where(
            Question.live_event_id == live_event.id,
            or_(Question.category == Category.complaint, ComplaintCase.id.is_not(None)),
        )
    )


# A complaint nobody has handled yet has no case: it is open.
_RESOLVED = ComplaintCase.status == CaseStatus.resolved
_UNRESOLVED = or_(ComplaintCase.id.is_(None), ComplaintCase.status != CaseStatus.resolved)


async def desk(session: AsyncSession, live_event: LiveEvent) -> DeskOut:
    """The desk: the unresolved complaints (the oldest, so due first, up to DESK_OPEN_LIMIT)
    and the last resolved ones (DESK_RESOLVED_LIMIT) with their cases, oldest first; how many
    there are of each in all; the desk's settings."""
    seq = await last_seq(session, live_event.id)
    listed = _complaints(live_event)
    unresolved = await session.execute(
        listed.where(_UNRESOLVED).order_by(Question.id).limit(DESK_OPEN_LIMIT)
    )
    resolved = await session.execute(
        listed.where(_RESOLVED)
        .order_by(ComplaintCase.resolved_at.desc().nulls_last(), Question.id.desc())
        .limit(DESK_RESOLVED_LIMIT)
    )
    pairs = sorted([(q, c) for q, c in [*unresolved, *resolved]], key=lambda pair: pair[0].id)
    settings = await _settings_row(session, live_event.id)
    return DeskOut(
        seq=seq,
        settings=DeskSettingsOut.model_validate(settings),
        cases=await _views(session, pairs, settings),
        **(await desk_totals(session, live_event)).model_dump(),
    )


async def desk_totals(session: AsyncSession, live_event: LiveEvent) -> DeskTotals:
    """How many complaints are unresolved and resolved, listed on the desk or not."""
    listed = _complaints(live_event)
    counted = listed.with_only_columns(_RESOLVED, func.count()).group_by(_RESOLVED)
    totals = {False: 0, True: 0}
    for done, count in await session.execute(counted):
        totals[bool(done)] += int(count)  # no case yet: NULL, open
    return DeskTotals(open_total=totals[False], resolved_total=totals[True])


async def case_view(session: AsyncSession, question_id: int) -> CaseOut:
    question = await questions.get(session, question_id)
    case = await _case_of(session, question.id)
    if case is None and question.category != Category.complaint:
        raise NotFound(f"question {question_id} is not a complaint")
    settings = await _settings_row(session, question.live_event_id)
    return (await _views(session, [(question, case)], settings))[0]


async def emit_case(session: AsyncSession, question: Question) -> None:
    """Tell every desk (the moderation channel only) the case's current state."""
    await session.flush()
    view = await case_view(session, question.id)
    await emit(
        session,
        question.live_event_id,
        "case",
        {Channel.moderation: {"case": view}, Channel.presenter: None, Channel.public: None},
    )


async def emit_case_of_answer(session: AsyncSession, answer: Answer) -> None:
    """After a follow-up's delivery changed (publishing worker): the desk shows how it went."""
    if answer.private:
        question = await questions.get(session, answer.question_id)
        await emit_case(session, question)


# --- Writes ------------------------------------------------------------------------------------


async def _lock(session: AsyncSession, live_event_id: int) -> None:
    # The LiveEvent's row lock, as questions.service._get_for_change takes it: a case and its
    # question change one writer at a time, each seeing what the one before committed.
    await session.execute(
        select(LiveEvent.id).where(LiveEvent.id == live_event_id).with_for_update(key_share=True)
    )


async def _case_of(session: AsyncSession, question_id: int) -> ComplaintCase | None:
    case: ComplaintCase | None = await session.scalar(
        select(ComplaintCase)
        .where(ComplaintCase.question_id == question_id)
        .execution_options(populate_existing=True)
    )
    return case


async def _case_for_change(
    session: AsyncSession, question_id: int, version: int | None, actor: User
) -> tuple[Question, ComplaintCase]:
    """The question and its case (created at its first handling), under the LiveEvent's lock.

    409 if the question is not a complaint, if the case was moved to the stage (it is closed),
    or if ``version`` is not the case's (someone changed it since the desk showed it).
    """
    question = await questions.get(session, question_id)
    await _lock(session, question.live_event_id)
    await session.refresh(question)
    case = await _case_of(session, question.id)
    if case is None:
        if question.category != Category.complaint:
            raise Conflict(f"question {question_id} is not a complaint")
        case = ComplaintCase(
            question_id=question.id,
            live_event_id=question.live_event_id,
            status=CaseStatus.open,
            notes="",
            resolution="",
            version=0,
        )
        session.add(case)
        await session.flush()
    if case.moved_to_stage_at is not None and question.category == Category.complaint:
        # Moved to the stage, then categorised a complaint again: back on the desk, reopened.
        _record(session, case, actor, "back_to_desk", "question", "complaint")
        _set_status(session, case, CaseStatus.open, actor)
        case.moved_to_stage_at = None
        case.resolution = ""
    if case.moved_to_stage_at is not None:
        raise Conflict(
            f"complaint {question_id} was moved to the stage: its case is closed "
            "(the spokesperson answers it as a question)"
        )
    if version is not None and version != case.version:
        raise Conflict(
            f"complaint {question_id} was changed since you loaded it; reload and try again",
            version=case.version,
        )
    return question, case


def _record(
    session: AsyncSession,
    case: ComplaintCase,
    actor: User,
    action: str,
    before: str = "",
    after: str = "",
    answer_id: int | None = None,
) -> None:
    session.add(
        CaseChange(
            case_id=case.id,
            action=action,
            before=before,
            after=after,
            answer_id=answer_id,
            actor_id=actor.id,
            actor_name=actor.username,
        )
    )


def _set_status(session: AsyncSession, case: ComplaintCase, to: CaseStatus, actor: User) -> None:
    if case.status == to:
        return
    now = utcnow()
    _record(session, case, actor, "status", case.status.value, to.value)
    case.status = to
    if to == CaseStatus.resolved:
        case.resolved_at = now
    else:
        # Reopened: the resolution time is that of the final resolution.
        case.resolved_at = None
    if to == CaseStatus.waiting_customer and case.first_response_at is None:
        # We asked the customer something: they have heard from us.
        case.first_response_at = now


async def _team_user(session: AsyncSession, live_event_id: int, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise Conflict(f"no active user {username!r}")
    if user.role is Role.admin:
        return user
    member = await session.scalar(
        select(TeamMember.user_id).where(
            TeamMember.live_event_id == live_event_id, TeamMember.user_id == user.id
        )
    )
    if member is None:
        raise Conflict(f"{username!r} is not on this LiveEvent's team; an admin can add them")
    return user


def _touch(case: ComplaintCase) -> None:
    case.version += 1
    case.updated_at = utcnow()


async def edit_case(
    session: AsyncSession, question_id: int, data: CaseEdit, actor: User
) -> CaseOut:
    """Change a case's status, assignee or notes; each change is kept in its trail."""
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    if not fields:
        raise Conflict("nothing to change: give status, assignee or notes")
    question, case = await _case_for_change(session, question_id, data.version, actor)
    if "assignee" in fields:
        before = ""
        if case.assignee_id is not None:
            previous = await session.get(User, case.assignee_id)
            before = previous.username if previous else ""
        if data.assignee:
            user = await _team_user(session, question.live_event_id, data.assignee)
            case.assignee_id = user.id
            after = user.username
        else:
            case.assignee_id, after = None, ""
        if before != after:
            _record(session, case, actor, "assignee", before, after)
    if data.status is not None:
        _set_status(session, case, data.status, actor)
    if data.notes is not None and data.notes != case.notes:
        _record(session, case, actor, "notes", case.notes, data.notes)
        case.notes = data.notes
    _touch(case)
    await emit_case(session, question)
    return await case_view(session, question.id)


async def move_to_stage(
    session: AsyncSession, question_id: int, actor: User, version: int | None = None
) -> CaseOut:
    """The complaint becomes a question for the spokesperson (moderators approve it as any
    other); its case closes, saying so. The only way a complaint reaches the stage."""
    question, case = await _case_for_change(session, question_id, version, actor)
    if question.category == Category.complaint:
        # Straight to the column, not through questions.edit: this is no correction of the
        # category (what triage learns from), the complaint was handled and now goes on stage.
        question.category = Category.question
        await session.flush()
    now = utcnow()
    _set_status(session, case, CaseStatus.resolved, actor)
    case.moved_to_stage_at = now
    case.resolution = f"moved to the stage by {actor.username}: the spokesperson answers it"
    _record(session, case, actor, "move_to_stage", "complaint", "question")
    _touch(case)
    await questions.emit_question(session, question)
    await emit_case(session, question)
    return await case_view(session, question.id)


# --- Follow-ups --------------------------------------------------------------------------------

# A placeholder left unfilled ("{asker}") would reach the customer as is.
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


async def check_followup(
    session: AsyncSession, live_event: LiveEvent, question: Question, text: str, network: str
) -> list[FollowupProblem]:
    """What is wrong with a follow-up before it goes to the asker on ``network``: the LiveEvent's
    editorial charter (its tone rules, forbidden words, signature, link and mention policies,
    as for an answer), and what would certainly embarrass the brand in a reply.

    The one place the desk asks. A copied follow-up is checked as the page's text (no length
    limit): a person sends it, wherever the asker is.
    """
    rules = await charter.get(session, live_event)
    where = Network.x if network == X_NETWORK else Network.page
    allowed = charter.mentions_allowed(question, live_event)
    problems: list[FollowupProblem] = [
        FollowupProblem(rule=v.rule.value, message=v.message, hard=v.severity == Severity.hard)
        for v in charter.check(rules, text, where, mentions_allowed=allowed)
        if v.severity != Severity.off
    ]
    if not text.strip():
        problems.append(FollowupProblem(rule="empty", message="the follow-up is empty", hard=True))
    left = sorted(set(_PLACEHOLDER.findall(text)))
    if left:
        problems.append(
            FollowupProblem(
                rule="placeholder",
                message=f"unfilled placeholder {', '.join(left)}: the customer would see it",
                hard=True,
            )
        )
    if network == X_NETWORK and weighted_length(text) > X_MAX_WEIGHTED:
        problems.append(
            FollowupProblem(
                rule="length",
                message=f"longer than one post on X ({weighted_length(text)}/{X_MAX_WEIGHTED})",
                hard=True,
            )
        )
    return problems


async def live_event_of(session: AsyncSession, question: Question) -> LiveEvent:
    live_event = await session.get(LiveEvent, question.live_event_id)
    if live_event is None:
        raise NotFound(f"question {question.id} has no LiveEvent")
    return live_event


def _reply_blocked(question: Question, x_enabled: bool) -> str:
    if not reply_possible(question):
        if question.source != X_NETWORK:
            return f"the asker is on {question.source}, where Tribune cannot reply: copy it"
        return (
            "X lets the account reply only to posts that mentioned it, and this asker did not: "
            "copy it and send it yourself"
        )
    if not x_enabled:
        return "no X posting credentials are set: copy it and send it yourself"
    return ""


async def propose_followup(
    session: AsyncSession, question_id: int, x_enabled: bool
) -> FollowupProposal:
    """The charter's complaint follow-up templates filled in for this asker, the first
    checked. A charter without one proposes an empty text, which the check calls empty."""
    question = await questions.get(session, question_id)
    live_event = await live_event_of(session, question)
    rules = await charter.get(session, live_event)
    asker = charter.asker_of(question)
    filled = [
        FollowupTemplate(name=t.name, text=charter.render(t, rules, asker))
        for t in rules.templates
        if t.kind == TemplateKind.complaint_followup
    ]
    text = filled[0].text if filled else ""
    blocked = _reply_blocked(question, x_enabled)
    checked = await check_for(session, question, text, x_enabled)
    return FollowupProposal(
        text=text,
        templates=filled,
        can_reply=not blocked,
        reply_blocked_because=blocked,
        problems=checked.problems,
        spend=checked.spend,
    )


async def check_for(
    session: AsyncSession, question: Question, text: str, x_enabled: bool
) -> FollowupCheck:
    """``check_followup`` for this asker's network, with the X reply's estimated price."""
    live_event = await live_event_of(session, question)
    can_reply = not _reply_blocked(question, x_enabled)
    network = X_NETWORK if can_reply else COPY_NETWORK
    problems = await check_followup(session, live_event, question, text, network)
    parts = split_into_posts(text) if can_reply and text.strip() else []
    spend = answer_spend(parts, reply_to_summoner=True) if parts else None
    return FollowupCheck(problems=problems, spend=spend)


async def send_followup(
    session: AsyncSession, question_id: int, data: FollowupIn, actor: User, x_enabled: bool
) -> CaseOut:
    """Send the moderator's follow-up as an X reply to the asker (through the outbox, as a
    private answer), or record that it was copied and sent by hand.

    Hard problems block it unless ``override``, and an override is kept in the case's trail.
    The first follow-up is the case's first response; the case then waits for the customer.
    """
    question, case = await _case_for_change(session, question_id, data.version, actor)
    live_event = await live_event_of(session, question)
    if data.via == "x_reply":
        blocked = _reply_blocked(question, x_enabled)
        if blocked:
            raise Conflict(f"cannot reply on X: {blocked}")
    network = X_NETWORK if data.via == "x_reply" else COPY_NETWORK
    problems = await check_followup(session, live_event, question, data.text, network)
    hard = [p for p in problems if p.hard]
    if hard and not data.override:
        raise Conflict(
            "the follow-up breaks the rules: " + "; ".join(p.message for p in hard),
            problems=[p.model_dump() for p in problems],
        )
    if hard:
        _record(session, case, actor, "override", "", "; ".join(p.message for p in hard))
    answer_id = None
    if data.via == "x_reply":
        answer = Answer(
            question_id=question.id,
            live_event_id=question.live_event_id,
            text=data.text,
            author_id=actor.id,
            author_name=actor.display_name or actor.username,
            private=True,
        )
        session.add(answer)
        await session.flush()
        session.add_all(
            publishing.x_thread(answer, question, split_into_posts(data.text), question.x_post_id)
        )
        answer_id = answer.id
    action = "followup_reply" if data.via == "x_reply" else "followup_copied"
    _record(session, case, actor, action, "", data.text, answer_id)
    if case.first_response_at is None:
        case.first_response_at = utcnow()
    if case.status in (CaseStatus.open, CaseStatus.in_progress):
        _set_status(session, case, CaseStatus.waiting_customer, actor)
    _touch(case)
    await emit_case(session, question)
    return await case_view(session, question.id)


# --- Export ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "question_id",
    "received_at",
    "network",
    "asker_handle",
    "asker_name",
    "language",
    "text",
    "status",
    "assignee",
    "due_at",
    "overdue",
    "first_response_at",
    "minutes_to_first_response",
    "resolved_at",
    "minutes_to_resolution",
    "moved_to_stage",
    "resolution",
    "notes",
    "last_followup",
)
# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection):
# "=HYPERLINK(...)" in a complaint would run on the customer service's machine.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet shows and never evaluates (OWASP's CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _minutes(start: datetime, end: datetime | None) -> str:
    return "" if end is None else str(round((end - start).total_seconds() / 60))


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


async def _every_case(session: AsyncSession, live_event: LiveEvent) -> AsyncIterator[CaseOut]:
    """Every complaint's view, oldest first, read EXPORT_CHUNK at a time."""
    settings = await _settings_row(session, live_event.id)
    after = 0
    while True:
        rows = await session.execute(
            _complaints(live_event)
            .where(Question.id > after)
            .order_by(Question.id)
            .limit(EXPORT_CHUNK)
        )
        pairs = [(q, c) for q, c in rows]
        for view in await _views(session, pairs, settings):
            yield view
        if len(pairs) < EXPORT_CHUNK:
            return
        after = pairs[-1][0].id


async def export_csv(session: AsyncSession, live_event: LiveEvent) -> str:
    """Every complaint and its case as CSV for customer service: UTF-8 with a byte-order mark
    (so Excel reads accents right), CRLF rows, every cell neutralised against formulas."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    async for case in _every_case(session, live_event):
        row = [
            str(case.question_id),
            _iso(case.received_at),
            case.source,
            case.author_handle,
            case.author_name,
            case.lang,
            case.text,
            case.status.value,
            case.assignee or "",
            _iso(case.due_at),
            "yes" if case.overdue else "no",
            _iso(case.first_response_at),
            _minutes(case.received_at, case.first_response_at),
            _iso(case.resolved_at),
            _minutes(case.received_at, case.resolved_at),
            "yes" if case.moved_to_stage_at else "no",
            case.resolution,
            case.notes,
            case.followups[-1].text if case.followups else "",
        ]
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()
