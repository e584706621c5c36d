"""The demo's set-up: a fresh embedded database with users, a LiveEvent and a replay source."""

import asyncio
from pathlib import Path

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role
from app.config import Settings
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.events import service as events
from app.events.models import LiveEventState
from app.events.schemas import LiveEventCreate
from app.ingest.models import IngestSource
from app.ingest.sources.replay import ReplayConfig, ReplaySource
from app.paths import APP_DIR

DEMO_RECORDING = APP_DIR / "ingest" / "recordings" / "aurora_bank_chat.jsonl"
DEMO_SLUG = "aurora-live"
# Demo-only passwords, printed at start: the demo database is recreated every time and the
# server listens on 127.0.0.1 only.
DEMO_USERS = (
    ("admin", Role.admin, "Olivia Admin", "demo-admin"),
    ("moderator", Role.moderator, "Malik Moderator", "demo-moderator"),
    ("spokesperson", Role.spokesperson, "Claire Martin", "demo-spokesperson"),
)


class _Nobody:
    def notify(self, live_event_ids: object) -> None:
        return None


async def _seed(settings: Settings, speed: float) -> str:
    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine), _Nobody()) as session:
            for username, role, name, password in DEMO_USERS:
                await accounts.create_user(session, username, password, role, name)
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
            session.add(
                IngestSource(
                    live_event_id=live_event.id,
                    kind=ReplaySource.slug,
                    config=ReplayConfig(path=str(DEMO_RECORDING), speed=speed).model_dump(),
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
Tribune demo — a recorded #AskAurora chat is arriving now ({speed:g}x speed).

  Moderator console  {base}/moderate/{DEMO_SLUG}
  Presenter view     {base}/present/{DEMO_SLUG}
  Audience page      {base}/live/{DEMO_SLUG}
  Operator           {base}/admin

  Logins (demo only):
{logins}

  JSON API (moderator token):
    curl -H 'Authorization: Bearer {token}' \\
      '{base}/api/v1/events/{DEMO_SLUG}/questions?status=pending'

Ctrl-C stops it. Each `make demo` starts from a fresh database ({database.name}).
"""
