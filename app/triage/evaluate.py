"""``make eval``: triage scored against a labelled set (eval/triage.jsonl; see eval/README.md).

Prints each category's precision and recall, the macro-F1, language accuracy, and the pairwise
precision, recall and F1 of duplicate grouping, with the issue's targets beside them.

    python -m app.triage.evaluate eval/triage.jsonl
    python -m app.triage.evaluate --tune app/triage/data/train.jsonl   # grouping thresholds

``--tune`` scores grouping at several thresholds with the true categories, so that
``SAME_QUESTION`` is chosen on the training set, never on the evaluation set.
"""

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.triage import service
from app.triage.schemas import Category, Post


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    lang: str
    category: Category
    group: str | None


def read(path: Path) -> list[Labelled]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append(
                Labelled(
                    str(row["id"]),
                    str(row["text"]),
                    str(row["lang"]),
                    Category(row["category"]),
                    row["group"],
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a labelled post ({exc})") from exc
    return rows


def pairs(groups: Sequence[str | None]) -> set[tuple[int, int]]:
    """Unordered pairs of posts in the same (non-None) group."""
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        if g is not None:
            members.setdefault(g, []).append(i)
    return {pair for m in members.values() for pair in itertools.combinations(m, 2)}


def prf(true_positive: int, predicted: int, actual: int) -> tuple[float, float, float]:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def pairwise(truth: Sequence[str | None], found: Sequence[str | None]) -> tuple[float, ...]:
    true_pairs, found_pairs = pairs(truth), pairs(found)
    return prf(len(true_pairs & found_pairs), len(found_pairs), len(true_pairs))


def report(rows: Sequence[Labelled]) -> int:
    verdicts = service.triage([Post(id=r.id, text=r.text) for r in rows])
    print(f"triage on {len(rows)} labelled posts\n")
    print(f"{'category':<12}{'precision':>11}{'recall':>9}{'F1':>8}{'support':>9}")
    f1s = {}
    for category in Category:
        tp = sum(
            1 for r, v in zip(rows, verdicts, strict=True) if r.category == v.category == category
        )
        predicted = sum(1 for v in verdicts if v.category == category)
        actual = sum(1 for r in rows if r.category == category)
        precision, recall, f1 = prf(tp, predicted, actual)
        f1s[category] = (precision, recall, f1)
        print(f"{category.value:<12}{precision:>11.3f}{recall:>9.3f}{f1:>8.3f}{actual:>9}")
    macro = sum(f for _, _, f in f1s.values()) / len(f1s)
    accuracy = sum(r.lang == v.lang for r, v in zip(rows, verdicts, strict=True)) / len(rows)
    precision, recall, f1 = pairwise([r.group for r in rows], [v.group for v in verdicts])
    print()
    targets = [
        ("macro-F1", macro, 0.85),
        ("complaint recall", f1s[Category.complaint][1], 0.90),
        ("spam precision", f1s[Category.spam][0], 0.95),
        ("duplicates pairwise F1", f1, 0.80),
    ]
    for name, value, target in targets:
        verdict = "met" if value >= target else "not met"
        print(f"{name:<26}{value:>7.3f}   target ≥ {target:.2f}: {verdict}")
    print(f"{'duplicates precision':<26}{precision:>7.3f}")
    print(f"{'duplicates recall':<26}{recall:>7.3f}")
    print(f"{'language accuracy':<26}{accuracy:>7.3f}")
    return 0


def tune(rows: Sequence[Labelled]) -> int:
    """Pairwise F1 of grouping at several thresholds, given the true categories."""
    texts = [r.text for r in rows]
    categories = [r.category for r in rows]
    truth = [r.group for r in rows]
    print(f"{'threshold':>9}{'precision':>11}{'recall':>9}{'F1':>8}")
    for percent in range(6, 62, 2):
        found = service.group(texts, categories, threshold=percent / 100)
        precision, recall, f1 = pairwise(truth, found)
        print(f"{percent / 100:>9.2f}{precision:>11.3f}{recall:>9.3f}{f1:>8.3f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--tune", action="store_true", help="sweep the grouping threshold")
    args = parser.parse_args(argv)
    rows = read(args.file)
    if not rows:
        raise SystemExit(f"{args.file}: no labelled posts")
    return tune(rows) if args.tune else report(rows)


if __name__ == "__main__":
    sys.exit(main())
