"""A LiveEvent's triage rules as stored: read with their defaults, replaced as a whole."""

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events.models import LiveEvent
from app.triage.models import TriageRules
from app.triage.schemas import TriageRulesIn, TriageRulesOut

# The model's spam at or above this confidence is rejected (rules.SPAM_CONFIDENCE says why this
# value). Here so that reading the rules loads none of the model's libraries.
SPAM_CONFIDENCE = 0.9


def _out(row: TriageRules | None) -> TriageRulesOut:
    if row is None:
        return TriageRulesOut(spam_confidence=SPAM_CONFIDENCE)
    return TriageRulesOut(
        blocked_words=list(row.blocked_words),
        blocked_accounts=list(row.blocked_accounts),
        auto_approve_accounts=list(row.auto_approve_accounts),
        profanity=row.profanity,
        reject_spam=row.reject_spam,
        spam_confidence=SPAM_CONFIDENCE,
    )


async def get(session: AsyncSession, live_event: LiveEvent) -> TriageRulesOut:
    """The LiveEvent's rules; the defaults when nobody has set any."""
    return _out(await session.get(TriageRules, live_event.id))


async def put(session: AsyncSession, live_event: LiveEvent, data: TriageRulesIn) -> TriageRulesOut:
    """Replace the LiveEvent's rules. They apply to questions triaged from now on; questions
    already decided stay as they are (a moderator restores or rejects them)."""
    row = await session.get(TriageRules, live_event.id)
    if row is None:
        row = TriageRules(live_event_id=live_event.id)
        session.add(row)
    row.blocked_words = list(data.blocked_words)
    row.blocked_accounts = list(data.blocked_accounts)
    row.auto_approve_accounts = list(data.auto_approve_accounts)
    row.profanity = data.profanity
    row.reject_spam = data.reject_spam
    row.updated_at = utcnow()
    await session.flush()
    return _out(row)


async def of_live_events(
    session: AsyncSession, live_event_ids: Iterable[int]
) -> dict[int, TriageRulesOut]:
    """Rules of several LiveEvents in one query (the stage's batch), defaults included."""
    ids = sorted(set(live_event_ids))
    rows = await session.scalars(select(TriageRules).where(TriageRules.live_event_id.in_(ids)))
    found = {row.live_event_id: row for row in rows}
    return {i: _out(found.get(i)) for i in ids}
