import asyncio
from typing import Any

import tweepy
from fastapi import APIRouter, BackgroundTasks, Depends, Request

from app.accounts.deps import Admin
from app.db import IdPath, SessionDep
from app.errors import Conflict, Invalid, NotFound
from app.events import service as events
from app.events.deps import Moderating
from app.ingest import service
from app.ingest.models import IngestSource
from app.ingest.schemas import SourceOut, XSourceIn
from app.ingest.sources.x_search import XSearchConfig
from app.ingest.sources.x_stream import XStreamConfig
from app.security import csrf_protect
from app.x.client import make_client
from app.x.reading import validate_rule, whoami
from app.x.rules import RuleOptions, build_rule

router = APIRouter(prefix="/api/v1", tags=["sources"], dependencies=[Depends(csrf_protect)])


@router.get("/events/{slug}/sources")
async def list_sources(session: SessionDep, access: Moderating) -> list[SourceOut]:
    """The LiveEvent's sources with their state: connected, reconnecting (and when), stopped
    (and why)."""
    return await service.sources_of(session, access.live_event)


@router.post("/events/{slug}/sources", status_code=201)
async def add_x_source(
    slug: str,
    data: XSourceIn,
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
    _: Admin,
) -> SourceOut:
    """Connect the LiveEvent to X. The rule is built from its hashtags and these options and
    checked by X (a dry run) before anything is stored; the source starts at once."""
    settings = request.app.state.settings
    live_event = await events.get_by_slug(session, slug)
    rule = build_rule(
        RuleOptions(
            hashtags=live_event.hashtags,
            answering_handle=live_event.answering_handle,
            require_mention=data.require_mention,
            languages=data.languages,
            no_retweets=data.no_retweets,
        )
    )
    bearer = settings.x_bearer_token
    if bearer is None:
        raise Conflict("set TRIBUNE_X_BEARER_TOKEN to read from X")
    tag = f"tribune:{live_event.slug}"
    config: dict[str, Any]
    if data.kind == "x-stream":
        try:
            problems = await asyncio.to_thread(
                validate_rule, bearer.get_secret_value(), settings.x_api_base_url, rule, tag
            )
        except tweepy.Unauthorized as exc:
            raise Conflict("X refused the credentials (HTTP 401)") from exc
        except (tweepy.TweepyException, OSError) as exc:
            raise Conflict(f"X could not check the rule: {type(exc).__name__}") from exc
        if problems:
            raise Invalid(f"X refused the rule {rule!r}: {'; '.join(problems)}")
        config = XStreamConfig(rule=rule, tag=tag).model_dump()
    else:
        config = XSearchConfig(
            query=rule, min_interval_seconds=data.min_interval_seconds
        ).model_dump()
    row = IngestSource(live_event_id=live_event.id, kind=data.kind, config=config)
    session.add(row)
    await session.flush()
    # Started after the response, that is after the commit: the runner reads the stored row.
    background.add_task(request.app.state.runner.start_one, row.id)
    return service.source_view(row)


@router.post("/events/{slug}/sources/{source_id}/restart")
async def restart_source(
    slug: str,
    source_id: IdPath,
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
    _: Admin,
) -> SourceOut:
    """Start a stopped source again (after fixing what stopped it)."""
    live_event = await events.get_by_slug(session, slug)
    row = await session.get(IngestSource, source_id)
    if row is None or row.live_event_id != live_event.id:
        raise NotFound(f"no source {source_id} in {slug!r}")
    row.enabled, row.status, row.status_detail = True, "starting", ""
    # Whichever worker runs it restarts it on seeing the new generation.
    row.generation += 1
    background.add_task(request.app.state.runner.start_one, row.id)
    return service.source_view(row)


@router.post("/x/test-connection")
async def check_x_connection(request: Request, _: Admin) -> dict[str, Any]:
    """Calls GET /2/users/me with the posting credentials: who Tribune would post as."""
    settings = request.app.state.settings
    credentials = settings.x_credentials()
    if not credentials.can_post:
        raise Conflict("no X posting credentials are set (OAuth 1.0a or OAuth 2 user token)")
    client = make_client(credentials, settings.x_api_base_url)
    try:
        me = await asyncio.to_thread(whoami, client)
    except tweepy.Unauthorized as exc:
        raise Conflict("X refused the posting credentials (HTTP 401)") from exc
    except (tweepy.TweepyException, OSError) as exc:
        raise Conflict(f"X did not answer: {type(exc).__name__}") from exc
    return {"ok": True, "id": me.get("id"), "username": me.get("username")}
