"""The demo's set-up: a fresh embedded database with users, a LiveEvent and a replay source."""

import asyncio
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role
from app.config import Settings
from app.db import Notifier, NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.models import LiveEventState
from app.events.schemas import LiveEventCreate
from app.ingest.models import IngestSource, Post
from app.ingest.sources.x_stream import XStreamConfig, XStreamSource
from app.main import BackgroundJob
from app.paths import APP_DIR
from app.questions import service as questions
from app.questions.models import Question
from app.questions.states import Action, Status
from app.x.rules import RuleOptions, build_rule
from app.xsandbox.app import create_sandbox_app
from app.xsandbox.state import SandboxConfig, SandboxState, load_recording

DEMO_RECORDING = APP_DIR / "ingest" / "recordings" / "aurora_bank_chat.jsonl"
DEMO_SLUG = "aurora-live"
# Demo-only passwords, printed at start: the demo database is recreated every time and the
# server listens on 127.0.0.1 only.
DEMO_USERS = (
    ("admin", Role.admin, "Olivia Admin", "demo-admin"),
    ("moderator", Role.moderator, "Malik Moderator", "demo-moderator"),
    ("spokesperson", Role.spokesperson, "Claire Martin", "demo-spokesperson"),
)


# The demo's X: the sandbox X API, mounted on Tribune's own server under this prefix. Tribune
# reaches it over HTTP through tweepy exactly as it reaches X, so the demo walks production's
# code path: filtered stream, rules, gap fill, posting with OAuth 1.0a, reconciliation.
SANDBOX_PREFIX = "/x-sandbox"


def demo_settings(database: Path, port: int) -> Settings:
    sandbox = SandboxConfig()
    return Settings(
        demo=True,
        database_url=f"sqlite+aiosqlite:///{database.resolve()}",
        port=port,
        x_api_base_url=f"http://127.0.0.1:{port}{SANDBOX_PREFIX}",
        x_bearer_token=SecretStr(sandbox.bearer_token),
        x_consumer_key=SecretStr(sandbox.consumer_key),
        x_consumer_secret=SecretStr(sandbox.consumer_secret),
        x_access_token=SecretStr(sandbox.access_token),
        x_access_token_secret=SecretStr(sandbox.access_token_secret),
        x_post_url=f"http://127.0.0.1:{port}{SANDBOX_PREFIX}/_sandbox/posts/{{id}}",
        _env_file=None,
    )


def demo_sandbox() -> SandboxState:
    """The demo's fake X, with X's real limits but a quicker keep-alive."""
    return SandboxState(SandboxConfig(keepalive_seconds=2.0))


def mount_sandbox(app: FastAPI, state: SandboxState) -> None:
    app.mount(SANDBOX_PREFIX, create_sandbox_app(state))


def play_recording(state: SandboxState, speed: float) -> BackgroundJob:
    """Publish the recorded chat on the fake X once Tribune's stream is connected (X keeps no
    backlog for a stream that connects late)."""

    async def run(app: FastAPI) -> None:
        for _ in range(600):
            if state.stats()["open_streams"]:
                break
            await asyncio.sleep(0.1)
        await state.play(load_recording(DEMO_RECORDING), speed)

    return run


async def _seed(settings: Settings, speed: float) -> str:
    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine), NullNotifier()) as session:
            users = [
                await accounts.create_user(session, username, password, role, name)
                for username, role, name, password in DEMO_USERS
            ]
            live_event = await events.create(
                session,
                LiveEventCreate(
                    slug=DEMO_SLUG,
                    title="#AskAurora — live Q&A with Claire Martin",
                    description="Aurora Bank's communications director answers you live.",
                    hashtags=["AskAurora"],
                    answering_handle="AuroraBank",
                    spokesperson="Claire Martin",
                ),
            )
            live_event.state = LiveEventState.live
            for user in users:
                if user.role is not Role.admin:
                    await events.assign(session, live_event, user)
            rule = build_rule(RuleOptions(hashtags=live_event.hashtags))
            session.add(
                IngestSource(
                    live_event_id=live_event.id,
                    kind=XStreamSource.slug,
                    config=XStreamConfig(rule=rule, tag=f"tribune:{DEMO_SLUG}").model_dump(),
                )
            )
            moderator = await accounts.get_user(session, "moderator")
            return await accounts.create_api_token(session, moderator, "demo")
    finally:
        await engine.dispose()


def prepare_demo(settings: Settings, database: Path, speed: float) -> str:
    """Recreate the demo database and return the banner to print (URLs, logins, a token)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    migrate.upgrade(settings.database_url)
    token = asyncio.run(_seed(settings, speed))
    base = f"http://127.0.0.1:{settings.port}"
    logins = "\n".join(
        f"    {username:<13} {password:<18} ({role.value})"
        for username, role, _name, password in DEMO_USERS
    )
    return f"""
Tribune demo — a recorded #AskAurora chat is arriving now ({speed:g}x speed), through
Tribune's real X code and a sandbox X API.

  Moderator console  {base}/moderate/{DEMO_SLUG}
  Presenter view     {base}/present/{DEMO_SLUG}
  Audience page      {base}/live/{DEMO_SLUG}
  Operator           {base}/admin
  Sandbox X          {base}{SANDBOX_PREFIX}/_sandbox   (what the brand's account posted)

  Logins (demo only):
{logins}

  JSON API (moderator token):
    curl -H 'Authorization: Bearer {token}' \\
      '{base}/api/v1/events/{DEMO_SLUG}/questions?status=pending'

Ctrl-C stops it. Each `make demo` starts from a fresh database ({database.name}).
"""


# How long a question stays on air before the autopilot publishes the spokesperson's answer.
AUTOPILOT_ON_AIR_SECONDS = 6.0
AUTOPILOT_POLL_SECONDS = 1.0


def _reply_target(post: Post) -> str | None:
    referenced = post.raw.get("data", {}).get("referenced_tweets") or []
    for ref in referenced:
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


def _strip_leading_mentions(text: str) -> str:
    words = text.split()
    while words and words[0].startswith("@"):
        words.pop(0)
    return " ".join(words)


def autopilot(on_air_seconds: float = AUTOPILOT_ON_AIR_SECONDS) -> BackgroundJob:
    """Demo only: when the brand's account replies to a question in the recording, play the
    spokesperson's part: approve it if need be, put it on air, and ``on_air_seconds`` later
    publish the reply as the answer. The audience page and the presenter view move on their
    own, and a moderator at the console still decides everything else."""

    async def run(app: FastAPI) -> None:
        async with asyncio.TaskGroup() as group:
            await _watch_replies(app, group, on_air_seconds)

    return run


async def _watch_replies(app: FastAPI, group: asyncio.TaskGroup, on_air_seconds: float) -> None:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    hub = app.state.notifier
    # The brand's answers also go back to (the sandbox) X, as replies or standalone posts.
    x_enabled = app.state.settings.x_credentials().can_post
    seen = 0
    while True:
        await asyncio.sleep(AUTOPILOT_POLL_SECONDS)
        async with maker() as session:
            live_event = await events.get_by_slug(session, DEMO_SLUG)
            replies = (
                await session.scalars(
                    select(Post)
                    .where(
                        Post.live_event_id == live_event.id,
                        func.lower(Post.author_handle) == live_event.answering_handle.lower(),
                        Post.id > seen,
                    )
                    .order_by(Post.id)
                )
            ).all()
        for reply in replies:
            seen = reply.id
            target = _reply_target(reply)
            if target is not None:
                text = _strip_leading_mentions(reply.text)
                group.create_task(
                    _answer_on_air(maker, hub, target, text, on_air_seconds, x_enabled)
                )


async def _answer_on_air(
    maker: async_sessionmaker[AsyncSession],
    hub: Notifier,
    external_id: str,
    text: str,
    on_air_seconds: float,
    x_enabled: bool,
) -> None:
    async with unit_of_work(maker, hub) as session:
        question = await session.scalar(
            select(Question)
            .join(Post, Question.post_id == Post.id)
            .where(Post.external_id == external_id)
        )
        if question is None or question.status not in (
            Status.pending,
            Status.approved,
            Status.on_air,
        ):
            return  # a moderator already decided otherwise: respect it
        speaker = await accounts.get_user(session, "spokesperson")
        question_id = question.id
        if question.status == Status.pending:
            await questions.act(session, question_id, Action.approve, speaker)
        if question.status == Status.approved:
            await questions.act(session, question_id, Action.on_air, speaker)
    await asyncio.sleep(on_air_seconds)
    async with unit_of_work(maker, hub) as session:
        question = await questions.get(session, question_id)
        if question.status in (Status.approved, Status.on_air):
            speaker = await accounts.get_user(session, "spokesperson")
            await questions.answer(session, question_id, text, speaker, x_enabled=x_enabled)
