"""Triage speed: one post at a time, as a live's posts arrive, and a backlog in batches of 100.

In one run, on the posts of the training set (their text only; speed does not depend on
labels, and the evaluation set stays out of every run but ``make eval``):

- training: building the category and duplicate models from ``app/triage/data/train.jsonl``
  and loading the lexicon, as the first call in a process does;
- baseline: language identification alone (``service.language``) on one post, the cheapest
  step triage cannot skip;
- one post: ``service.triage([post])`` (category, confidence, language, group), median and p99
  over ``--posts`` calls, and its ratio to the baseline;
- batch: ``service.triage(posts)`` on 100 posts at a time (grouping compares them with one
  another), reported per post.

    .venv/bin/python bench/triage.py [--posts 2000] [--batches 30]
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources

from app.triage import service
from app.triage.schemas import Post


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed(calls: int, call: Callable[[int], object]) -> list[float]:
    """Milliseconds taken by each of ``calls`` calls of ``call(i)``."""
    times = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def line(name: str, times: Sequence[float], per: int = 1) -> str:
    median = statistics.median(times) / per
    p99 = percentile(times, 0.99) / per
    return f"{name:<34}{median:>9.3f}{p99:>9.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="single-post calls to time")
    parser.add_argument("--batches", type=int, default=30, help="batches of 100 to time")
    args = parser.parse_args(argv)

    data = resources.files("app.triage").joinpath("data/train.jsonl").read_text(encoding="utf-8")
    texts = [example.text for example in service.load_examples(data.splitlines())]
    posts = [Post(id=str(i), text=text) for i, text in enumerate(texts)]

    start = time.perf_counter()
    service.classifier()
    service.lexicon()
    service.pair_model()
    training = time.perf_counter() - start
    # Warm every cache (langid's model, the per-word lexicon look-ups) before timing.
    service.triage(posts)

    baseline = timed(args.posts, lambda i: service.language(texts[i % len(texts)]))
    single = timed(args.posts, lambda i: service.triage([posts[i % len(posts)]]))
    model = timed(args.posts, lambda i: service.classifier().predict([texts[i % len(texts)]]))
    batch = timed(
        args.batches,
        lambda b: service.triage([posts[(b * 100 + j) % len(posts)] for j in range(100)]),
    )

    print(f"triage speed: {len(texts)} distinct posts, training included in the first call\n")
    print(f"training (models and lexicon)     {training * 1000:>9.0f} ms, once per process\n")
    print(f"{'ms per post':<34}{'median':>9}{'p99':>9}")
    print(line("baseline: language alone", baseline))
    print(line("category model alone", model))
    print(line("triage, one post", single))
    print(line("triage, batch of 100 (per post)", batch, per=100))
    ratio = statistics.median(single) / statistics.median(baseline)
    print(f"\none post: {ratio:.1f} times the baseline; target median ≤ 5 ms: ", end="")
    print("met" if statistics.median(single) <= 5 else "not met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
