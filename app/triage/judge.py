"""The model's side of the triage stage: verdicts and duplicate groups for a batch of
questions, each LiveEvent's with its recent triaged questions as context.

Run in a worker process by the stage (stage.py): scikit-learn's import, the model's training
and its work hold the GIL for seconds at first and tens of milliseconds a batch after, which
the server's event loop must not wait on. Its inputs and outputs are plain picklable values,
and this module imports the model only in its functions: the server imports it for its types,
and only the worker loads scikit-learn.
"""

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.triage.schemas import Category, Post


@dataclass(frozen=True, slots=True)
class New:
    id: int
    text: str
    # A moderator's category set before triage: it stands, and groups are looked for in it.
    category: str | None


@dataclass(frozen=True, slots=True)
class Known:
    """A triaged question new ones may duplicate."""

    id: int
    text: str
    category: str
    group: int | None


@dataclass(frozen=True, slots=True)
class Case:
    """One LiveEvent's part of a batch."""

    new: Sequence[New]
    known: Sequence[Known]


@dataclass(frozen=True, slots=True)
class Verdict:
    category: str
    confidence: float
    lang: str
    group: int | None


@dataclass(slots=True)
class Judgement:
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    # Questions triaged before that a new one joined in a group: id → group.
    joined: dict[int, int] = field(default_factory=dict)


# The worker's CPU priority (nice) below the server's: triage is background work, a request is
# somebody waiting.
NICENESS = 10


def start_worker() -> None:
    """The worker process's start: a lower priority, then the models imported and trained (a
    few seconds of CPU), before the first batch rather than during it.

    The priority comes first: the numeric libraries start their threads at import, and a
    thread keeps the priority it was started with (it was the server's, and those threads do
    most of the training's work)."""
    with contextlib.suppress(OSError, AttributeError):  # not on every platform
        os.nice(NICENESS)
    from app.triage import service

    service.classifier()
    service.pair_model()


def _groups(case: Case, categories: Sequence[str], joined: dict[int, int]) -> list[int | None]:
    """Each new question's group, clustered with the known ones: a duplicate of a question
    asked minutes ago joins it. A group keeps the id it has; a new group is named after its
    first question. Known questions that join one are added to ``joined``."""
    from app.triage import service

    known, new = case.known, case.new
    texts = [k.text for k in known] + [n.text for n in new]
    cats = [Category(k.category) for k in known] + [Category(c) for c in categories]
    labels = service.group(texts, cats)
    members: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        if label is not None:
            members.setdefault(label, []).append(i)
    ids = [k.id for k in known] + [n.id for n in new]
    out: list[int | None] = [None] * len(new)
    for indexes in members.values():
        if all(i < len(known) for i in indexes):
            continue  # only questions triaged before: their groups stay as they are
        old = [known[i] for i in indexes if i < len(known)]
        existing = sorted({k.group for k in old if k.group is not None})
        key = existing[0] if existing else min(ids[i] for i in indexes)
        for i in indexes:
            if i >= len(known):
                out[i - len(known)] = key
        for k in old:
            if k.group is None:
                joined[k.id] = key
    return out


def judge(cases: Sequence[Case]) -> Judgement:
    """Category, confidence, language and group of every new question of ``cases``."""
    from app.triage import service

    judgement = Judgement()
    evaluated = frozenset(c.value for c in Category)
    for case in cases:
        verdicts = service.triage([Post(id=str(n.id), text=n.text) for n in case.new])
        categories = [
            n.category if n.category in evaluated else v.category.value
            for n, v in zip(case.new, verdicts, strict=True)
        ]
        groups = _groups(case, categories, judgement.joined)
        for n, v, group in zip(case.new, verdicts, groups, strict=True):
            judgement.verdicts[n.id] = Verdict(v.category.value, v.confidence, v.lang, group)
    return judgement
