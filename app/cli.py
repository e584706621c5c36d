"""The ``tribune`` command."""

import asyncio
import getpass
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app import migrate
from app.accounts import service as accounts
from app.accounts.models import Role
from app.config import Settings, get_settings
from app.db import NullNotifier, make_engine, make_sessionmaker, unit_of_work
from app.demo import (
    autopilot,
    demo_sandbox,
    demo_settings,
    mount_sandbox,
    play_recording,
    prepare_demo,
)
from app.errors import AppError
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.heap import settle_heap
from app.ingest.models import IngestSource
from app.ingest.runner import play
from app.ingest.schemas import IngestResult
from app.ingest.sources.replay import ReplayConfig, ReplaySource
from app.main import BackgroundJob, create_app
from app.serving import SERVE_SOURCES_ENV, uvicorn_options
from app.triage.schemas import Post as TriagePost
from app.xsandbox.app import create_sandbox_app
from app.xsandbox.state import load_recording

cli = typer.Typer(help="Tribune: the live Q&A relay.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
user_cli = typer.Typer(help="Users.", no_args_is_help=True)
token_cli = typer.Typer(help="API tokens.", no_args_is_help=True)
event_cli = typer.Typer(help="LiveEvents.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(token_cli, name="token")
cli.add_typer(event_cli, name="event")

T = TypeVar("T")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


async def _transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine), NullNotifier()) as session:
            return await work(session)
    finally:
        await engine.dispose()


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_transaction(settings, work))
    except AppError as exc:
        _fail(exc.message)
        raise  # unreachable: _fail exits


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema (or REVISION)."""
    migrate.upgrade(get_settings().database_url, revision)
    typer.echo("database is up to date")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: TRIBUNE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: TRIBUNE_PORT.")] = None,
    sources: Annotated[bool, typer.Option(help="Run the configured ingest sources.")] = True,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; with TRIBUNE_REDIS_URL for fan-out.")
    ] = 1,
) -> None:
    """Migrate, then serve the app (and run ingest sources).

    With several workers each is a whole Tribune: every source runs in exactly one of them (the
    holder of its lease) and updates reach every worker's clients (through Redis, or by each
    worker polling the update log every TRIBUNE_POLL_SECONDS without it)."""
    settings = get_settings()
    try:
        settings.check_production_ready()
    except RuntimeError as exc:
        _fail(str(exc))
    migrate.upgrade(settings.database_url)
    if workers == 1:
        _serve(settings, host or settings.host, port or settings.port, sources)
        return
    # uvicorn starts each worker from an import string; the workers read the same settings
    # from the environment, and this flag from it too.
    os.environ[SERVE_SOURCES_ENV] = "1" if sources else "0"
    uvicorn.run(
        "app.main:worker_app",
        factory=True,
        workers=workers,
        host=host or settings.host,
        port=port or settings.port,
        **uvicorn_options(settings.log_level),
    )


def _serve(
    settings: Settings,
    host: str,
    port: int,
    sources: bool,
    background: Sequence[BackgroundJob] = (),
) -> None:
    _run(create_app(settings, run_sources=sources, background=background), settings, host, port)


def _run(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings.log_level))


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        _fail("the passwords differ")
    return first


@user_cli.command("create")
def user_create(
    name: str,
    role: Annotated[Role, typer.Option(help="admin, moderator or spokesperson")],
    display_name: Annotated[str, typer.Option(help="Shown on screens.")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Create a user; the password comes from stdin or a prompt, never from the command line."""
    password = _read_password(password_stdin)

    async def work(session: AsyncSession) -> None:
        await accounts.create_user(session, name, password, role, display_name)

    _in_transaction(get_settings(), work)
    typer.echo(f"created {role.value} {name}")


@user_cli.command("list")
def user_list() -> None:
    """Every user with their role and whether they may log in."""

    async def work(session: AsyncSession) -> list[tuple[str, str, bool]]:
        return [(u.username, u.role.value, u.is_active) for u in await accounts.list_users(session)]

    for username, role, active in _in_transaction(get_settings(), work):
        typer.echo(f"{username:<24} {role:<14} {'active' if active else 'disabled'}")


@user_cli.command("disable")
def user_disable(name: str) -> None:
    """Disable a user: their sessions and tokens stop working at once, and their open
    sockets close within seconds."""

    async def work(session: AsyncSession) -> None:
        await accounts.disable_user(session, await accounts.get_user(session, name))

    _in_transaction(get_settings(), work)
    typer.echo(f"disabled {name}")


@user_cli.command("set-password")
def user_set_password(
    name: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Set a user's password; their existing sessions end."""
    password = _read_password(password_stdin)

    async def work(session: AsyncSession) -> None:
        await accounts.set_password(session, await accounts.get_user(session, name), password)

    _in_transaction(get_settings(), work)
    typer.echo(f"password changed for {name}")


@token_cli.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Create an API token for a user and print it (it is shown only this once)."""

    async def work(session: AsyncSession) -> str:
        user = await accounts.get_user(session, name)
        return await accounts.create_api_token(session, user, label)

    typer.echo(_in_transaction(get_settings(), work))


@event_cli.command("create")
def event_create(
    slug: Annotated[str, typer.Option()],
    title: Annotated[str, typer.Option()],
    hashtag: Annotated[list[str], typer.Option(help="Repeat for several.")],
    answering_handle: Annotated[str, typer.Option(help="The X account that answers.")] = "",
    spokesperson: Annotated[str, typer.Option()] = "",
    stream_url: Annotated[str | None, typer.Option(help="https:// player URL.")] = None,
    starts_at: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%dT%H:%M:%S%z"])] = None,
) -> None:
    """Schedule a LiveEvent."""
    try:
        data = LiveEventCreate(
            slug=slug,
            title=title,
            hashtags=hashtag,
            answering_handle=answering_handle,
            spokesperson=spokesperson,
            stream_url=stream_url,
            starts_at=starts_at,
        )
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return

    async def work(session: AsyncSession) -> None:
        await events.create(session, data)

    _in_transaction(get_settings(), work)
    typer.echo(f"created LiveEvent {slug}")


@event_cli.command("assign")
def event_assign(
    slug: str,
    name: Annotated[str, typer.Argument(help="The user to put on the team.")],
    role: Annotated[
        Role | None, typer.Option(help="moderator or spokesperson; default: the account's role")
    ] = None,
) -> None:
    """Put a user on a LiveEvent's team (or change their role there)."""

    async def work(session: AsyncSession) -> str:
        live_event = await events.get_by_slug(session, slug)
        user = await accounts.get_user(session, name)
        return (await events.assign(session, live_event, user, role)).role.value

    typer.echo(f"{name} is {_in_transaction(get_settings(), work)} on {slug}")


@event_cli.command("unassign")
def event_unassign(slug: str, name: str) -> None:
    """Take a user off a LiveEvent's team; their open screens for it close within seconds."""

    async def work(session: AsyncSession) -> None:
        live_event = await events.get_by_slug(session, slug)
        await events.unassign(session, live_event, await accounts.get_user(session, name))

    _in_transaction(get_settings(), work)
    typer.echo(f"{name} is off the team of {slug}")


@event_cli.command("team")
def event_team(slug: str) -> None:
    """Who works a LiveEvent, and as what (admins run every LiveEvent)."""

    async def work(session: AsyncSession) -> list[tuple[str, str, bool]]:
        live_event = await events.get_by_slug(session, slug)
        return [
            (m.username, m.role.value, m.is_active) for m in await events.team(session, live_event)
        ]

    for username, role, active in _in_transaction(get_settings(), work):
        typer.echo(f"{username:<24} {role:<14} {'active' if active else 'disabled'}")


async def _add_source(settings: Settings, slug: str, config: ReplayConfig, enabled: bool) -> int:
    async def work(session: AsyncSession) -> int:
        live_event = await events.get_by_slug(session, slug)
        row = IngestSource(
            live_event_id=live_event.id,
            kind=ReplaySource.slug,
            config=config.model_dump(),
            enabled=enabled,
        )
        session.add(row)
        await session.flush()
        return row.id

    return await _transaction(settings, work)


@cli.command()
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    event: Annotated[str, typer.Option("--event", help="The LiveEvent's slug.")],
    speed: Annotated[float, typer.Option(min=0.01, help="2 plays twice as fast.")] = 1.0,
) -> None:
    """Play a recorded chat (X filtered-stream JSON lines) into a LiveEvent."""
    settings = get_settings()
    config = ReplayConfig(path=str(file.resolve()), speed=speed)
    source = ReplaySource(config)
    # As a server's runner plays a source (registry.build_source): a backlog is stored in
    # transactions of up to this many posts.
    source.max_batch = settings.ingest_batch_size
    total = source.count()

    async def run() -> IngestResult:
        source_id = await _add_source(settings, event, config, enabled=False)
        engine = make_engine(settings.database_url)
        totals = IngestResult(received=0, stored=0, questions=0, duplicates=0)
        with typer.progressbar(length=total, label="replaying") as bar:

            def step(result: IngestResult) -> None:
                nonlocal totals
                totals = IngestResult(
                    received=totals.received + result.received,
                    stored=totals.stored + result.stored,
                    questions=totals.questions + result.questions,
                    duplicates=totals.duplicates + result.duplicates,
                )
                bar.update(result.received)

            settle_heap()
            try:
                await play(source, source_id, make_sessionmaker(engine), NullNotifier(), step)
            finally:
                await engine.dispose()
        return totals

    try:
        totals = asyncio.run(run())
    except AppError as exc:
        _fail(exc.message)
        return
    typer.echo(
        f"{totals.received} posts: {totals.stored} new, {totals.duplicates} already stored, "
        f"{totals.questions} questions"
    )


@cli.command()
def triage(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Triage a backlog: reads JSON lines {"id", "text"}, prints for each line
    {"id", "category", "confidence", "lang", "group"} (offline; nothing is stored)."""
    posts = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            posts.append(TriagePost.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "line"
            _fail(f"{file}:{number}: {where}: {problem['msg']}")
    # Imported here: scikit-learn takes a second to import, and no other command needs it.
    from app.triage.service import triage as triage_posts

    for verdict in triage_posts(posts):
        typer.echo(verdict.model_dump_json())


@cli.command()
def demo(
    port: Annotated[int, typer.Option()] = 8000,
    speed: Annotated[float, typer.Option(min=0.01, help="Replay speed.")] = 1.0,
    database: Annotated[Path, typer.Option(help="Recreated at each start.")] = Path(
        "tribune-demo.db"
    ),
    autopilot_on: Annotated[
        bool,
        typer.Option(
            "--autopilot/--no-autopilot",
            help="Answer on air the questions the brand replied to in the recording.",
        ),
    ] = True,
) -> None:
    """Everything at once, no credentials: a fresh database, demo users, a LiveEvent, a
    recorded chat replayed into it, and the server."""
    settings = demo_settings(database, port)
    banner = prepare_demo(settings, database, speed)
    typer.echo(banner)
    sandbox = demo_sandbox()
    jobs = [play_recording(sandbox, speed), *([autopilot()] if autopilot_on else [])]
    app = create_app(settings, background=jobs)
    mount_sandbox(app, sandbox)
    _run(app, settings, "127.0.0.1", port)


@cli.command("sandbox")
def sandbox_command(
    port: Annotated[int, typer.Option()] = 8300,
    play: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="A recording to publish.")
    ] = None,
    speed: Annotated[float, typer.Option(min=0.01)] = 1.0,
) -> None:
    """Serve the sandbox X API on 127.0.0.1, for rehearsals: set TRIBUNE_X_API_BASE_URL to it
    and the sandbox credentials (its page at /_sandbox lists them and what was posted)."""
    state = demo_sandbox()
    app = create_sandbox_app(state)
    if play is not None:
        messages = load_recording(play)

        @asynccontextmanager
        async def playing(_app: FastAPI) -> AsyncIterator[None]:
            state.start_playback(messages, speed)
            yield
            state.stop_playback()

        app.router.lifespan_context = playing

    typer.echo(f"Sandbox X API on http://127.0.0.1:{port} (control page: /_sandbox)")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    cli()
