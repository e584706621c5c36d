"""The triage stage in the product: every question triaged after it is stored (ingest and the
audience form), duplicate groups across batches, rumours first, corrections kept and exported,
and exactly one worker's stage at work."""

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import make_sessionmaker, unit_of_work
from app.main import create_app
from app.ops import service as ops
from app.questions.models import Question
from app.triage import evaluate, judge
from app.triage.rules import SameLinkWatch
from app.triage.stage import LEASE, TriageStage
from tests.conftest import Actor, LiveServer, RecordingNotifier, ask, serve_in_thread
from tests.triage.conftest import Ingest, RunStage
from tests.wsclient import Channel

RUMOUR = (
    "Is it true that Test Bank is going bankrupt? My cousin says the bank will be sold #AskTest"
)
QUESTION = "What are the fees for international transfers outside the eurozone?"
LYON = "Pourquoi fermez-vous l'agence de Lyon Part-Dieu en mars ? #AskTest"
LYON_AGAIN = "Pourquoi fermez vous l'agence Lyon Part Dieu en mars??"


async def get(http: httpx.AsyncClient, actor: Actor, question_id: object) -> dict[str, Any]:
    response = await http.get(f"/api/v1/questions/{question_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(http: httpx.AsyncClient, actor: Actor, query: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/v1/events/ask-test/questions?{query}", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_apps_stage_triages_audience_and_ingested_questions_and_tells_the_console(
    settings: Settings,
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
) -> None:
    # A second server on the same database runs the stage, as a deployment's worker would.
    with serve_in_thread(create_app(settings, run_sources=False, run_triage=True)):
        url = f"{live_server.ws_url}/ws/events/ask-test/moderation?after=0"
        async with Channel(url, moderator.token) as ws:
            typed = await ask(http, RUMOUR)
            assert typed["status"] == "pending"
            await ingest(("camille", "Merci pour ce live, très clair et humain"))
            seen: dict[int, dict[str, Any]] = {}
            deadline = time.monotonic() + 60
            while len([q for q in seen.values() if q["triaged_at"]]) < 2:
                assert time.monotonic() < deadline, seen
                message = await ws.recv(within=60)
                if message.get("type") == "question":
                    seen[message["question"]["id"]] = message["question"]
    rumour = seen[int(str(typed["id"]))]
    assert rumour["category"] == "rumour"
    assert rumour["category_source"] == "triage"
    assert 0.5 < rumour["triage_confidence"] <= 1
    assert rumour["lang"] == "en", "the audience form gives no language: triage detects it"
    assert rumour["status"] == "pending"
    praise = next(q for q in seen.values() if q["author_handle"] == "camille")
    assert (praise["category"], praise["lang"]) == ("praise", "fr")
    # What the socket said is what is stored.
    stored = await get(http, moderator, typed["id"])
    assert stored["category"] == "rumour"
    assert stored["version"] == rumour["version"]


async def test_an_idle_stage_finds_nothing_and_triages_each_question_once(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, run_stage: RunStage
) -> None:
    assert await run_stage() == 0
    await ask(http, QUESTION)
    await ask(http, RUMOUR)
    assert await run_stage() == 2
    assert await run_stage() == 0


async def test_duplicates_are_grouped_across_batches_with_their_count(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, run_stage: RunStage
) -> None:
    first = await ask(http, LYON)
    other = await ask(http, QUESTION)
    await run_stage()
    assert (await get(http, moderator, first["id"]))["triage_group_id"] is None
    # Minutes later, the same question in other words joins the first one's group.
    again = await ask(http, LYON_AGAIN)
    await run_stage()
    grouped = await get(http, moderator, again["id"])
    assert grouped["triage_group_id"] == first["id"]
    assert (await get(http, moderator, first["id"]))["triage_group_id"] == first["id"]
    assert (await get(http, moderator, other["id"]))["triage_group_id"] is None
    counts = (await http.get("/api/v1/events/ask-test/counts", headers=moderator.headers)).json()
    assert counts["groups"] == {str(first["id"]): 2}


async def test_rumours_are_listed_first_in_the_pending_queue(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, run_stage: RunStage
) -> None:
    older = await ask(http, QUESTION)
    rumour = await ask(http, RUMOUR)
    await run_stage()
    pending = await listed(http, moderator, "status=pending")
    assert [q["id"] for q in pending] == [rumour["id"], older["id"]]
    # Elsewhere the order stays the oldest first.
    everything = await listed(http, moderator, "")
    assert [q["id"] for q in everything] == [older["id"], rumour["id"]]


async def test_a_correction_is_kept_and_exported_as_evaluation_data(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    spokesperson: Actor,
    run_stage: RunStage,
    maker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    rumour = await ask(http, RUMOUR)
    praise = await ask(http, "Merci pour ce live, très clair et humain")
    await run_stage()
    url = f"/api/v1/questions/{rumour['id']}"
    before = await get(http, moderator, rumour["id"])
    assert before["category"] == "rumour"
    corrected = await http.patch(
        url, json={"category": "question", "version": before["version"]}, headers=moderator.headers
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["category_source"] == "moderator"
    # Corrected twice: the export holds the latest label, and triage's verdict stays the first.
    await http.patch(url, json={"category": "complaint"}, headers=moderator.headers)
    await http.patch(
        f"/api/v1/questions/{praise['id']}",
        json={"category": "duplicate"},
        headers=moderator.headers,
    )
    from app.triage.models import TriageCorrection

    async with unit_of_work(maker, RecordingNotifier()) as session:
        rows = (await session.scalars(select(TriageCorrection).order_by(TriageCorrection.id))).all()
    assert [(r.predicted, r.corrected, r.username) for r in rows] == [
        ("rumour", "question", "mo"),
        ("rumour", "complaint", "mo"),
        ("praise", "duplicate", "mo"),
    ]
    assert rows[0].confidence == before["triage_confidence"]
    assert rows[0].text == RUMOUR

    export = await http.get(
        "/api/v1/events/ask-test/triage/corrections.jsonl", headers=moderator.headers
    )
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert lines == [
        {
            "id": f"ask-test-{rumour['id']}",
            "text": RUMOUR,
            "lang": "en",
            "category": "complaint",
            "group": None,
        }
    ], "one line per question, its latest label; 'duplicate' is no category to score"
    # `make eval`'s reader takes the file as it is.
    saved = tmp_path / "corrections.jsonl"
    saved.write_text(export.text, encoding="utf-8")
    assert [row.category.value for row in evaluate.read(saved)] == ["complaint"]
    # Moderators and admins only.
    refused = await http.get(
        "/api/v1/events/ask-test/triage/corrections.jsonl", headers=spokesperson.headers
    )
    assert refused.status_code == 403


async def test_a_moderators_category_set_before_triage_stands(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, run_stage: RunStage
) -> None:
    rumour = await ask(http, RUMOUR)
    await http.patch(
        f"/api/v1/questions/{rumour['id']}", json={"category": "other"}, headers=moderator.headers
    )
    await run_stage()
    after = await get(http, moderator, rumour["id"])
    assert (after["category"], after["category_source"]) == ("other", "moderator")
    assert after["triaged_at"] is not None
    assert after["lang"] == "en"


async def test_a_moderators_decision_made_while_the_model_runs_stands(
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    engine: AsyncEngine,
    maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model runs with no transaction open; what a moderator did meanwhile wins."""
    from app.triage import stage

    spam = await ask(http, "WIN 5000€ IN CRYPTO NOW!!! click bit.ly/fake-x1 #crypto #win #free")
    approved_meanwhile = False
    real_classify = stage.classify

    def slow_classify(*args: Any) -> Any:
        nonlocal approved_meanwhile
        plan = real_classify(*args)
        response = httpx.post(
            f"{live_server.url}/api/v1/questions/{spam['id']}/approve", headers=moderator.headers
        )
        approved_meanwhile = response.status_code == 200
        return plan

    monkeypatch.setattr(stage, "classify", slow_classify)
    read_maker = make_sessionmaker(engine, readonly=True)
    watch = SameLinkWatch()
    assert await stage.triage_batch(read_maker, maker, RecordingNotifier(), watch) == 1
    assert approved_meanwhile
    after = await get(http, moderator, spam["id"])
    assert after["status"] == "approved", "triage does not reject what a moderator approved"
    assert after["status_changed_by"] == "mo"
    assert after["category"] == "spam"


async def test_exactly_one_workers_stage_triages_and_another_takes_over(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    engine: AsyncEngine,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    read_maker = make_sessionmaker(engine, readonly=True)
    first = TriageStage(
        maker, read_maker, RecordingNotifier(), name="worker-1", poll_seconds=0.05, start_delay=0
    )
    second = TriageStage(
        maker, read_maker, RecordingNotifier(), name="worker-2", poll_seconds=0.05, start_delay=0
    )
    await first.start()
    await asyncio.sleep(0.3)
    await second.start()
    try:
        for i in range(6):
            await ask(http, f"{QUESTION} ({i})")
        deadline = time.monotonic() + 60
        while first.triaged + second.triaged < 6:
            assert time.monotonic() < deadline, (first.triaged, second.triaged)
            await asyncio.sleep(0.05)
        assert (first.leading, second.leading) == (True, False)
        assert (first.triaged, second.triaged) == (6, 0)
        async with unit_of_work(maker, RecordingNotifier()) as session:
            assert await ops.holder_of(session, LEASE) == "worker-1"

        # The leader stops (a clean shutdown gives the lease up): the other one carries on.
        await first.stop()
        late = await ask(http, RUMOUR)
        deadline = time.monotonic() + 60
        while (await get(http, moderator, late["id"]))["triaged_at"] is None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert second.leading
        assert second.triaged == 1
    finally:
        await first.stop()
        await second.stop()
    async with unit_of_work(maker, RecordingNotifier()) as session:
        untriaged = await session.scalars(select(Question.id).where(Question.triaged_at.is_(None)))
        assert list(untriaged) == []


@pytest.mark.parametrize("batch", [1, 3])
async def test_questions_are_triaged_oldest_first_in_bounded_batches(
    batch: int,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    engine: AsyncEngine,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    from app.triage import stage

    asked = [await ask(http, f"{QUESTION} #{i}") for i in range(4)]
    read_maker = make_sessionmaker(engine, readonly=True)
    watch = SameLinkWatch()
    done = await stage.triage_batch(read_maker, maker, RecordingNotifier(), watch, limit=batch)
    assert done == batch
    triaged = [(await get(http, moderator, q["id"]))["triaged_at"] is not None for q in asked]
    assert triaged == [i < batch for i in range(4)]


async def test_triage_does_not_make_a_moderators_edit_stale(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, run_stage: RunStage
) -> None:
    """A moderator opened the question before triage saw it: their edit, sent with the version
    they saw, still goes through (triage's findings are not someone else's change)."""
    question = await ask(http, QUESTION)
    seen = await get(http, moderator, question["id"])
    await run_stage()
    triaged = await get(http, moderator, question["id"])
    assert triaged["triaged_at"] is not None
    assert triaged["category"] == "question"
    edited = await http.patch(
        f"/api/v1/questions/{question['id']}",
        json={"note": "Ask the treasury team", "version": seen["version"]},
        headers=moderator.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["note"] == "Ask the treasury team"
    assert edited.json()["category"] == "question", "the edit keeps what triage found"


def _nice_of_threads(pid: int) -> list[int]:
    """The nice value of each thread of a process, from /proc/<pid>/task/<tid>/stat: its 19th
    field (the command's name, in brackets, may hold spaces: counted from its end)."""
    stats = (t.joinpath("stat").read_text() for t in Path(f"/proc/{pid}/task").iterdir())
    return [int(stat.rsplit(")", 1)[1].split()[16]) for stat in stats]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads threads from Linux's /proc")
async def test_every_thread_of_the_models_process_runs_below_the_server(
    engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> None:
    # The model's numeric libraries start threads of their own when they are imported, and do
    # most of the work in them: a priority lowered after the import left those at the server's,
    # and ingest ran at two thirds of its speed beside the model's training (bench/README.md).
    server = os.getpriority(os.PRIO_PROCESS, 0)
    stage = TriageStage(maker, make_sessionmaker(engine, readonly=True), RecordingNotifier())
    try:
        worker = await stage._in_process(os.getpid)
        nice = await asyncio.to_thread(_nice_of_threads, worker)
        assert len(nice) > 1  # the libraries' threads, or this test proves nothing
        assert nice == [min(server + judge.NICENESS, 19)] * len(nice)
        assert os.getpriority(os.PRIO_PROCESS, 0) == server
    finally:
        await stage.stop()
