"""The triage stage on a backlog: its throughput, and how long the event loop it shares with
the server is held up meanwhile, with the model in a worker process (the stage's way) and in a
thread (the baseline: what the process avoids).

For each mode, on a fresh SQLite database built by the migrations: ``--questions`` pending
questions of one LiveEvent (posts of the evaluation set, cycled), then the stage's batches
until every one is triaged. Beside them, a probe sleeps 10 ms again and again on the same
event loop and records how late it wakes: a request on that loop waits as long.

    .venv/bin/python bench/triage_stage.py [--questions 3000]
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from app import migrate
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.events.models import LiveEvent
from app.questions import service as questions
from app.questions.models import Origin
from app.questions.schemas import NewQuestion
from app.triage.rules import SameLinkWatch
from app.triage.stage import TriageStage, triage_batch

ROOT = Path(__file__).resolve().parents[1]
PROBE_SECONDS = 0.01


async def probe(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(PROBE_SECONDS)
        lags.append((time.perf_counter() - started - PROBE_SECONDS) * 1000)


async def run(mode: str, count: int, texts: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await asyncio.to_thread(migrate.upgrade, url)
        engine = make_engine(url)
        maker, read_maker = make_sessionmaker(engine), make_sessionmaker(engine, readonly=True)
        async with unit_of_work(maker, NullNotifier()) as session:
            show = LiveEvent(slug="bench", title="Bench", hashtags=["Bench"])
            session.add(show)
            await session.flush()
            new = [
                NewQuestion(origin=Origin.audience, source="audience", text=texts[i % len(texts)])
                for i in range(count)
            ]
            await questions.create_many(session, show, new)
        stage = TriageStage(maker, read_maker, NullNotifier(), name="bench", start_delay=0)
        watch = SameLinkWatch()
        if mode == "process":
            # The worker's start (import and training) is not the stage's throughput.
            await stage._in_process(len, [])
        lags: list[float] = []
        stop = asyncio.Event()
        prober = asyncio.create_task(probe(lags, stop))
        started = time.perf_counter()
        done = 0
        while True:
            if mode == "process":
                n = await triage_batch(
                    read_maker, maker, NullNotifier(), watch, run=stage._in_process
                )
            else:
                n = await triage_batch(read_maker, maker, NullNotifier(), watch)
            if not n:
                break
            done += n
        elapsed = time.perf_counter() - started
        stop.set()
        await prober
        await stage.stop()
        await engine.dispose()
    lags.sort()
    return {
        "triaged": done,
        "per_second": done / elapsed,
        "lag_p50": statistics.median(lags),
        "lag_p99": lags[int(len(lags) * 0.99) - 1],
        "lag_max": lags[-1],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--questions", type=int, default=3000)
    args = parser.parse_args()
    lines = (ROOT / "eval" / "triage.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    # The thread's first batch trains the model in this process: train it before measuring.
    from app.triage import service

    await asyncio.to_thread(service.classifier)
    results = {mode: await run(mode, args.questions, texts) for mode in ("thread", "process")}
    print(f"triage stage, {args.questions} questions (event-loop lag in ms, probe every 10 ms)")
    print(f"{'':<22}{'thread (baseline)':>18}{'process':>12}")
    for key, label, fmt in (
        ("per_second", "questions/s", "{:,.0f}"),
        ("lag_p50", "loop lag p50", "{:.1f}"),
        ("lag_p99", "loop lag p99", "{:.1f}"),
        ("lag_max", "loop lag max", "{:.1f}"),
    ):
        row = "".join(
            f"{fmt.format(results[m][key]):>{w}}" for m, w in (("thread", 18), ("process", 12))
        )
        print(f"{label:<22}{row}")


if __name__ == "__main__":
    asyncio.run(main())
