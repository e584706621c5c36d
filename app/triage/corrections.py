"""Moderators' corrections of triage's categories, kept as evaluation data.

Each change of a question's category by a moderator is a row: what triage had said (and how
sure it was), what the moderator says is right, who and when. The export is eval/triage.jsonl's
format, so ``python -m app.triage.evaluate corrections.jsonl`` measures triage on them.
"""

import json
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.events.models import LiveEvent
from app.questions.models import Category, CategorySource, Question
from app.triage.models import TriageCorrection
from app.triage.schemas import Category as TriageCategory

# Categories the evaluation format knows: "duplicate" is a moderator's filing, not triage's.
EVALUATED = frozenset(c.value for c in TriageCategory)


async def record(
    session: AsyncSession, question: Question, corrected: Category | None, actor: User
) -> TriageCorrection:
    """Keep a moderator's change of ``question``'s category (the caller changes it)."""
    predicted: str | None = None
    confidence: float | None = None
    if question.category_source == CategorySource.triage and question.category is not None:
        predicted, confidence = question.category.value, question.triage_confidence
    else:
        # Corrected before: triage's verdict is in the first correction.
        first = await session.scalar(
            select(TriageCorrection)
            .where(TriageCorrection.question_id == question.id)
            .order_by(TriageCorrection.id)
            .limit(1)
        )
        if first is not None:
            predicted, confidence = first.predicted, first.confidence
    row = TriageCorrection(
        question_id=question.id,
        live_event_id=question.live_event_id,
        text=question.original_text,
        lang=question.lang,
        predicted=predicted,
        confidence=confidence,
        corrected=corrected.value if corrected is not None else None,
        user_id=actor.id,
        username=actor.username,
    )
    session.add(row)
    return row


async def export(session: AsyncSession, live_event: LiveEvent) -> AsyncIterator[str]:
    """The LiveEvent's corrected questions as lines of eval/triage.jsonl: one line per
    question, with its latest correction as the label. A question cleared or filed as
    "duplicate" is left out (no category to score). ``group`` is the moderators' own merge
    (merged_into_id), the only duplicate truth there is; null when alone."""
    rows = await session.execute(
        select(TriageCorrection, Question.merged_into_id)
        .join(Question, Question.id == TriageCorrection.question_id)
        .where(TriageCorrection.live_event_id == live_event.id)
        .order_by(TriageCorrection.id)
    )
    latest: dict[int, tuple[TriageCorrection, int | None]] = {}
    for correction, merged_into in rows:
        latest[correction.question_id] = (correction, merged_into)
    kept = {
        qid: (c, merged)
        for qid, (c, merged) in latest.items()
        if c.corrected is not None and c.corrected in EVALUATED
    }
    # A merged question and the one it went into share a group; a group of one is no group.
    root = {qid: merged if merged is not None else qid for qid, (_, merged) in kept.items()}
    sizes: dict[int, int] = {}
    for r in root.values():
        sizes[r] = sizes.get(r, 0) + 1
    for qid, (correction, _) in kept.items():
        group = f"m{root[qid]}" if sizes[root[qid]] > 1 else None
        line = {
            "id": f"{live_event.slug}-{qid}",
            "text": correction.text,
            "lang": correction.lang,
            "category": correction.corrected,
            "group": group,
        }
        yield json.dumps(line, ensure_ascii=False) + "\n"
