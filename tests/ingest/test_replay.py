"""Replay through the real pipeline: dedup, what becomes a question, cursor resume."""

import json
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import unit_of_work
from app.demo import DEMO_RECORDING
from app.events import service as events
from app.events.models import LiveEvent
from app.events.schemas import LiveEventCreate
from app.ingest.models import IngestSource, Post
from app.ingest.runner import play
from app.ingest.schemas import IngestResult
from app.ingest.sources.replay import ReplayConfig, ReplaySource
from app.questions.models import Question
from app.realtime.models import Update
from tests.conftest import RecordingNotifier

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x"


async def make_show(maker: async_sessionmaker[AsyncSession]) -> int:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        live_event = await events.create(
            session,
            LiveEventCreate(
                slug="aurora", title="Aurora", hashtag="AskAurora", answering_handle="AuroraBank"
            ),
        )
        return live_event.id


async def add_source(
    maker: async_sessionmaker[AsyncSession], live_event_id: int, path: Path, cursor: str = ""
) -> tuple[int, ReplaySource]:
    config = ReplayConfig(path=str(path), speed=10_000)
    async with unit_of_work(maker, RecordingNotifier()) as session:
        row = IngestSource(
            live_event_id=live_event_id, kind="replay", config=config.model_dump(), cursor=cursor
        )
        session.add(row)
        await session.flush()
        return row.id, ReplaySource(config)


async def run(
    maker: async_sessionmaker[AsyncSession],
    source_id: int,
    source: ReplaySource,
    notifier: RecordingNotifier | None = None,
) -> IngestResult:
    total = IngestResult(received=0, stored=0, questions=0, duplicates=0)

    def add(result: IngestResult) -> None:
        nonlocal total
        total = IngestResult(
            **{k: getattr(total, k) + getattr(result, k) for k in IngestResult.model_fields}
        )

    await play(source, source_id, maker, notifier or RecordingNotifier(), add)
    return total


def recording_facts() -> tuple[int, int]:
    """(posts, posts that should become questions) in the demo recording."""
    posts = questions = 0
    for line in DEMO_RECORDING.read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        posts += 1
        data = message["data"]
        retweet = any(r["type"] == "retweeted" for r in data.get("referenced_tweets", []))
        author = message["includes"]["users"][0]["username"]
        questions += not retweet and author != "AuroraBank"
    return posts, questions


async def count(maker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with maker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_demo_recording_replays_into_questions_once(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    posts, expected_questions = recording_facts()
    assert posts >= 150
    live_event_id = await make_show(maker)
    notifier = RecordingNotifier()
    source_id, source = await add_source(maker, live_event_id, DEMO_RECORDING)
    first = await run(maker, source_id, source, notifier)
    assert first == IngestResult(
        received=posts, stored=posts, questions=expected_questions, duplicates=0
    )
    assert set(notifier.notified) == {live_event_id}
    # The same recording again, as a new source: every post is a duplicate.
    source_id, source = await add_source(maker, live_event_id, DEMO_RECORDING)
    second = await run(maker, source_id, source)
    assert second == IngestResult(received=posts, stored=0, questions=0, duplicates=posts)
    assert await count(maker, Post) == posts
    assert await count(maker, Question) == expected_questions
    assert await count(maker, Update) == expected_questions
    async with maker() as session:
        row = await session.get(IngestSource, source_id)
        assert row is not None
        assert row.cursor == str(posts)
        last_seq = await session.scalar(select(LiveEvent.last_seq))
    assert last_seq == expected_questions


async def test_the_same_post_twice_in_one_batch_gives_one_question(
    maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    line = (FIXTURES / "escaped_entities.json").read_text(encoding="utf-8").strip()
    recording = tmp_path / "twice.jsonl"
    recording.write_text(f"{line}\n{line}\n", encoding="utf-8")
    live_event_id = await make_show(maker)
    source_id, source = await add_source(maker, live_event_id, recording)
    result = await run(maker, source_id, source)
    assert (result.stored, result.questions) == (1, 1)
    async with maker() as session:
        question = await session.scalar(select(Question))
        assert question is not None
        assert question.text.startswith("Fees & charges")
        assert question.author_handle == "lea_dubois"
        post = await session.scalar(select(Post))
        assert post is not None
        assert post.mentions_answering_account


async def test_retweets_and_bad_lines_do_not_become_questions(
    maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    lines = [
        (FIXTURES / name).read_text(encoding="utf-8").strip()
        for name in ("retweet.json", "note_tweet.json")
    ]
    recording = tmp_path / "mixed.jsonl"
    recording.write_text(f"{lines[0]}\nnot json at all\n\n[1, 2]\n{lines[1]}\n", encoding="utf-8")
    live_event_id = await make_show(maker)
    source_id, source = await add_source(maker, live_event_id, recording)
    result = await run(maker, source_id, source)
    assert (result.received, result.stored, result.questions) == (2, 2, 1)


async def test_a_post_keeps_its_payload_exactly_as_it_arrived(
    maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    # Spacing and escapes as X may send them: stored as they are (the audit trail's copy of
    # the post), and read back as the same value.
    line = (
        '{ "data": {"id": "1960000000000000001", "text": "\\u00e7a \\ud83d\\ude00 &amp; co",'
        ' "author_id": "42", "created_at": "2026-12-03T18:00:00.000Z", "lang": "fr"},'
        '  "includes": {"users": [{"id": "42", "username": "asker", "name": "Asker"}]} }'
    )
    recording = tmp_path / "spaced.jsonl"
    recording.write_text(line + "\r\n", encoding="utf-8")
    live_event_id = await make_show(maker)
    source_id, source = await add_source(maker, live_event_id, recording)
    await run(maker, source_id, source)
    async with maker() as session:
        post = await session.scalar(select(Post))
        stored = await session.scalar(text("SELECT CAST(raw AS TEXT) FROM posts"))
    assert post is not None
    assert post.raw == json.loads(line)
    assert post.text == "ça 😀 & co"
    assert stored == line


async def test_a_restarted_replay_resumes_after_its_cursor(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    posts, _ = recording_facts()
    live_event_id = await make_show(maker)
    source_id, source = await add_source(maker, live_event_id, DEMO_RECORDING, cursor="100")
    result = await run(maker, source_id, source)
    assert result.received == posts - 100


async def test_a_replayed_mastodon_status_is_stored_as_its_text(
    maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    mastodon = FIXTURES.parent / "mastodon"
    lines = [
        (folder / name).read_text(encoding="utf-8").strip()
        for folder, name in (
            (FIXTURES, "escaped_entities.json"),
            (mastodon, "status.json"),
            (mastodon, "boost.json"),
        )
    ]
    recording = tmp_path / "mixed_networks.jsonl"
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    live_event_id = await make_show(maker)
    source_id, source = await add_source(maker, live_event_id, recording)
    result = await run(maker, source_id, source)
    # The boost is stored but, like a retweet, is not a question.
    assert (result.received, result.stored, result.questions) == (3, 3, 2)
    expected = (
        "@AuroraBank Is the fee schedule at aurora.example/fr/tarifs/parti… final? "
        "Rates > 3% & <b>no</b> cap?\n\nMerci ! #AskAurora\n— Inès"
    )
    async with maker() as session:
        post = await session.scalar(select(Post).where(Post.external_id == "113623091842756301"))
        assert post is not None
        assert (post.text, post.author_handle) == (expected, "ines_morel@piaille.fr")
        question = await session.scalar(select(Question).where(Question.post_id == post.id))
        assert question is not None
        assert question.text == expected
