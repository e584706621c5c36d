"""The sandbox as an ASGI app: X API v2 routes (``/2/...``) and a control API (``/_sandbox``).

X routes answer like X: the same JSON shapes, statuses, problem bodies and rate-limit headers,
so tweepy runs against them unmodified. Every X request goes through ``_admit``: counted,
authenticated, then answered by an injected fault if one is queued, then rate limited.

The control API has no authentication: the sandbox is for 127.0.0.1, tests and rehearsals.
"""

import asyncio
import base64
import binascii
import html
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from jinja2 import Environment
from pydantic import BaseModel, Field, model_validator
from starlette.types import Receive, Scope, Send

from app.paths import APP_DIR
from app.xsandbox import oauth, problems
from app.xsandbox.matching import Node, QueryError, parse_query
from app.xsandbox.problems import XProblem
from app.xsandbox.state import (
    EndpointGroup,
    SandboxState,
    StreamConnection,
    load_recording,
    now_iso,
)

# Where a bare recording name given to /_sandbox/play is looked up.
RECORDINGS_DIR = APP_DIR / "ingest" / "recordings"
_RATE_LIMITED = ("search", "tweets")
# Inside the opaque next_token: the oldest id of the page before. Paging by id rather than by
# offset keeps the pages stable while new posts arrive, as on X.
_PAGE_MARK = "sandbox-next:"


def _state(request: Request) -> SandboxState:
    state = request.app.state.sandbox
    if not isinstance(state, SandboxState):
        raise TypeError("the sandbox app was built without a SandboxState")
    return state


StateDep = Annotated[SandboxState, Depends(_state)]

api = APIRouter()
control = APIRouter(prefix="/_sandbox")


def _problem_response(problem: XProblem) -> JSONResponse:
    return JSONResponse(problem.body, problem.status, headers=problem.headers)


async def _render_problem(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, XProblem):
        raise TypeError("registered for XProblem only")
    return _problem_response(exc)


async def _admit(
    state: SandboxState, group: EndpointGroup, request: Request, *, user: bool
) -> dict[str, str]:
    """Count, authenticate, apply a queued fault, spend the rate limit; the headers to send."""
    state.count_request(group)
    authorization = request.headers.get("authorization")
    if user:
        form_body = ""
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            form_body = (await request.body()).decode("utf-8", "replace")
        raw_path = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else request.url.path
        # Mounted under a prefix (the demo serves it at /x-sandbox), the client signed X's own
        # path: strip the mount point before checking the signature.
        root = request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        allowed = oauth.is_user(
            state.config,
            authorization,
            request.method,
            path.split("?", 1)[0],
            request.url.query,
            form_body,
        )
    else:
        allowed = oauth.is_app(state.config, authorization)
    if not allowed:
        raise problems.unauthorized()
    status = state.take_fault(group)
    if status is not None and status >= 400:
        if status == 429:
            raise problems.too_many_requests(state.injected_rate_status(group).headers())
        raise XProblem(status, problems.plain(status))
    if group not in _RATE_LIMITED:
        return {}
    rate = state.rate_limit(group)
    if not rate.allowed:
        raise problems.too_many_requests(rate.headers())
    return rate.headers()


def _with_headers(problem: XProblem, headers: dict[str, str]) -> XProblem:
    # X puts the rate-limit headers on every answer of a limited endpoint, errors included.
    problem.headers = {**headers, **problem.headers}
    return problem


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise problems.invalid_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise problems.invalid_request("The request body must be a JSON object.")
    return body


# -- filtered stream -----------------------------------------------------------------------------


async def _stream_lines(connection: StreamConnection, keepalive: float) -> AsyncIterator[bytes]:
    while True:
        try:
            item = await asyncio.wait_for(connection.queue.get(), keepalive)
        except TimeoutError:
            yield b"\r\n"  # X's keep-alive: a bare CRLF
            continue
        if item is None:
            return
        yield item


class _StreamResponse(StreamingResponse):
    """A stream that forgets its connection however it ends (client gone, server-side end)."""

    def __init__(self, state: SandboxState, connection: StreamConnection) -> None:
        super().__init__(
            _stream_lines(connection, state.config.keepalive_seconds),
            media_type="application/json",
        )
        self._sandbox = state
        self._connection = connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._sandbox.close_stream(self._connection)


@api.get("/2/tweets/search/stream")
async def filtered_stream(request: Request, state: StateDep) -> Response:
    """Matching posts as they are published, one JSON object a line; keep-alives between."""
    await _admit(state, "stream", request, user=False)
    connection = state.open_stream()
    if connection is None:
        raise problems.too_many_connections()
    return _StreamResponse(state, connection)


@api.get("/2/tweets/search/stream/rules")
async def get_rules(request: Request, state: StateDep) -> JSONResponse:
    """The current rules (``ids`` narrows them down)."""
    await _admit(state, "rules", request, user=False)
    ids = request.query_params.get("ids")
    rules = state.list_rules(ids.split(",") if ids else None)
    body: dict[str, Any] = {"data": rules} if rules else {}
    body["meta"] = {"sent": now_iso(), "result_count": len(rules)}
    return JSONResponse(body)


@api.post("/2/tweets/search/stream/rules")
async def change_rules(request: Request, state: StateDep) -> JSONResponse:
    """``{"add": [...]}`` or ``{"delete": {"ids": [...]}}``; ``dry_run=true`` changes nothing."""
    await _admit(state, "rules", request, user=False)
    body = await _json_object(request)
    dry_run = request.query_params.get("dry_run", "false").lower() == "true"
    add, delete = body.get("add"), body.get("delete")
    if (add is None) == (delete is None):
        raise problems.invalid_request("Exactly one of `add` or `delete` is required.")
    if add is not None:
        if not isinstance(add, list) or not add or not all(isinstance(r, dict) for r in add):
            raise problems.invalid_request("`add` must be a non-empty array of rule objects.")
        return JSONResponse(state.add_rules(add, dry_run=dry_run))
    if not isinstance(delete, dict):
        raise problems.invalid_request("`delete` must be an object with `ids` or `values`.")
    ids = delete.get("ids")
    if ids is None and isinstance(delete.get("values"), list):
        by_value = {rule["value"]: rule["id"] for rule in state.list_rules()}
        ids = [by_value.get(str(value), str(value)) for value in delete["values"]]
    if not isinstance(ids, list) or not ids:
        raise problems.invalid_request("`delete.ids` must be a non-empty array of rule ids.")
    return JSONResponse(state.delete_rules([str(i) for i in ids], dry_run=dry_run))


# -- recent search -------------------------------------------------------------------------------


def _id_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise problems.invalid_request(
            f"The `{name}` query parameter value [{value}] is not valid.", {name: [value]}
        )
    return int(value)


def _next_token(oldest_id: str) -> str:
    raw = (_PAGE_MARK + oldest_id).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _before_id(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raw = ""
    oldest = raw.removeprefix(_PAGE_MARK)
    if not raw.startswith(_PAGE_MARK) or not oldest.isdigit():
        raise problems.invalid_request(
            "The `next_token` query parameter value is not valid.", {"next_token": [token]}
        )
    return int(oldest)


def _search_query(request: Request) -> Node:
    query = request.query_params.get("query", "")
    if not query.strip():
        raise problems.invalid_request(
            "The `query` query parameter can not be empty.", {"query": [query]}
        )
    try:
        return parse_query(query)
    except QueryError as exc:
        raise problems.invalid_request(
            "There were errors processing your request: " + " ".join(exc.details),
            {"query": [query]},
        ) from None


def _max_results(request: Request) -> int:
    value = request.query_params.get("max_results", "10")
    if not value.isdigit() or not 10 <= int(value) <= 100:
        raise problems.invalid_request(
            f"The `max_results` query parameter value [{value}] is not between 10 and 100",
            {"max_results": [value]},
        )
    return int(value)


@api.get("/2/tweets/search/recent")
async def search_recent(request: Request, state: StateDep) -> JSONResponse:
    """Posts matching ``query``, newest first, paged by ``next_token``; never retweets.

    ``expansions``, ``tweet.fields`` and ``user.fields`` are accepted and ignored: full objects
    and their authors always come back.
    """
    headers = await _admit(state, "search", request, user=False)
    try:
        query = _search_query(request)
        limit = _max_results(request)
        since_id = _id_param(request, "since_id")
        until_id = _id_param(request, "until_id")
        token = request.query_params.get("next_token")
        if token:
            before = _before_id(token)
            until_id = before if until_id is None else min(until_id, before)
    except XProblem as problem:
        raise _with_headers(problem, headers) from None
    found, more = state.search(query, since_id=since_id, until_id=until_id, limit=limit)
    if not found:
        return JSONResponse({"meta": {"result_count": 0}}, headers=headers)
    users: dict[str, Any] = {}
    for message in found:
        for user in (message.get("includes") or {}).get("users") or []:
            users.setdefault(str(user.get("id")), user)
    meta: dict[str, Any] = {
        "newest_id": found[0]["data"]["id"],
        "oldest_id": found[-1]["data"]["id"],
        "result_count": len(found),
    }
    if more:
        meta["next_token"] = _next_token(found[-1]["data"]["id"])
    body = {
        "data": [message["data"] for message in found],
        "includes": {"users": list(users.values())},
        "meta": meta,
    }
    return JSONResponse(body, headers=headers)


# -- user context ----------------------------------------------------------------------------


@api.get("/2/users/me")
async def users_me(request: Request, state: StateDep) -> JSONResponse:
    """The account the user-context credentials belong to."""
    await _admit(state, "users_me", request, user=True)
    return JSONResponse({"data": state.account_user()})


def _reply_to(body: dict[str, Any]) -> str | None:
    reply = body.get("reply")
    if reply is None:
        return None
    target = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
    if not isinstance(target, str | int) or not str(target).isdigit():
        raise problems.invalid_request(
            "`reply.in_reply_to_tweet_id` must be a post id.",
            {"reply.in_reply_to_tweet_id": [str(target)]},
        )
    return str(target)


@api.post("/2/tweets")
async def create_post(request: Request, state: StateDep) -> JSONResponse:
    """Post as the account (see ``SandboxState.create_post`` for X's checks)."""
    headers = await _admit(state, "tweets", request, user=True)
    hang = state.take_hang()
    try:
        body = await _json_object(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise problems.invalid_request("`text` is required.", {"text": []})
        if "quote_tweet_id" in body:
            # Quote posts through the API left self-serve access in 2026-04 (X_API.md).
            raise problems.forbidden("Quoting a post is not available with your access level.")
        post = state.create_post(text, _reply_to(body))
        data = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
        response = JSONResponse({"data": data}, status_code=201, headers=headers)
    except XProblem as problem:
        response = _problem_response(_with_headers(problem, headers))
    if hang:
        # X accepted (or refused) it; the answer is late, so a short client timeout gives up.
        await asyncio.sleep(hang)
    return response


# -- control API ---------------------------------------------------------------------------------


class PublishBody(BaseModel):
    messages: list[dict[str, Any]]


class PlayBody(BaseModel):
    # A JSON-lines file, or the name of a bundled recording (app/ingest/recordings).
    path: str
    speed: float = Field(1.0, gt=0)


class FaultBody(BaseModel):
    endpoint: EndpointGroup
    statuses: list[Annotated[int, Field(ge=100, le=599)]] = []
    accept_then_hang: float | None = Field(None, ge=0, le=600)

    @model_validator(mode="after")
    def _hang_is_for_posting(self) -> "FaultBody":
        if self.accept_then_hang is not None and self.endpoint != "tweets":
            raise ValueError("accept_then_hang applies to the tweets endpoint only")
        return self


def _recording_path(value: str) -> Path:
    path = Path(value)
    if path.is_file():
        return path
    bundled = RECORDINGS_DIR / (path.name if path.suffix else f"{path.name}.jsonl")
    if bundled.is_file():
        return bundled
    raise HTTPException(404, f"No recording at {value!r}.")


def _read_recording(value: str) -> list[dict[str, Any]]:
    return load_recording(_recording_path(value))


@control.post("/publish")
async def control_publish(body: PublishBody, state: StateDep) -> dict[str, int]:
    """Make posts exist now (search finds them; connected streams get those that match)."""
    try:
        state.publish(body.messages)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"published": len(body.messages)}


@control.post("/play", status_code=202)
async def control_play(body: PlayBody, state: StateDep) -> dict[str, Any]:
    """Start playing a recording in the background (a second play replaces the first)."""
    try:
        messages = await asyncio.to_thread(_read_recording, body.path)
        state.start_playback(messages, body.speed)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"messages": len(messages), "speed": body.speed}


@control.post("/disconnect")
async def control_disconnect(state: StateDep) -> dict[str, int]:
    """End every open stream, as X does now and then."""
    count = state.stats()["open_streams"]
    state.disconnect_streams()
    return {"disconnected": count}


@control.post("/faults")
async def control_faults(body: FaultBody, state: StateDep) -> dict[str, Any]:
    """Queue statuses for the next requests to an endpoint group, or an accept-then-hang."""
    state.inject(body.endpoint, body.statuses)
    if body.accept_then_hang is not None:
        state.accept_then_hang(body.accept_then_hang)
    return {"pending_faults": state.stats()["pending_faults"]}


@control.post("/reset")
async def control_reset(state: StateDep) -> dict[str, bool]:
    """Forget everything: posts, rules, the account's posts, streams, faults, counters."""
    state.reset()
    return {"reset": True}


@control.get("/posts")
async def control_posts(state: StateDep) -> list[dict[str, Any]]:
    """The posts the account created, oldest first."""
    return state.created_posts()


@control.get("/posts/{post_id}")
async def control_post(post_id: str, state: StateDep) -> dict[str, Any]:
    """One published or created post, as a stream message without ``matching_rules``."""
    message = state.find_post(post_id)
    if message is None:
        raise HTTPException(404, "No such post.")
    return message


@control.get("/stats")
async def control_stats(state: StateDep) -> dict[str, Any]:
    """Request counters per endpoint group, stream connections, posts, rules, pending faults."""
    return state.stats()


# Autoescaping on: post texts are whatever a test or a recording put there, "<script>" included.
_PAGES = Environment(autoescape=True)
_PAGE = _PAGES.from_string(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>X sandbox · @{{ account.username }}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem auto; max-width: 60rem; }
table { border-collapse: collapse; } td, th { padding: .2rem .8rem .2rem 0; text-align: left; }
li { margin-bottom: .8rem; } .meta { color: #555; font-size: .85em; }
blockquote { margin: .2rem 0 0 1rem; color: #444; }
</style>
</head>
<body>
<h1>X sandbox — posts by @{{ account.username }} ({{ account.name }})</h1>
<table>
<tr><th>Stream</th><td>{{ stats.open_streams }} open, {{ stats.stream_connections }}
connections made, {{ stats.stream_deliveries }} posts delivered</td></tr>
<tr><th>Requests</th><td>{% for group, count in stats.requests.items() %}{{ group }}
{{ count }}{% if not loop.last %} · {% endif %}{% endfor %}</td></tr>
<tr><th>Posts</th><td>{{ stats.posts }} searchable, {{ stats.rules }} stream rules
{%- if stats.playing %}, playing a recording{% endif %}</td></tr>
</table>
<h2>Created posts, newest first ({{ posts | length }})</h2>
<ol reversed>
{% for post in posts %}
<li id="post-{{ post.id }}">
<div>{{ post.text }}</div>
<div class="meta">{{ post.created_at }} · <a href="/_sandbox/posts/{{ post.id }}">{{ post.id }}</a>
{% if post.in_reply_to_tweet_id %} · in reply to
<a href="/_sandbox/posts/{{ post.in_reply_to_tweet_id }}">{{ post.in_reply_to_tweet_id }}</a>
{% if post.parent %}by @{{ post.parent_author }}<blockquote>{{ post.parent }}</blockquote>
{% endif %}{% endif %}</div>
</li>
{% else %}
<li>No posts yet.</li>
{% endfor %}
</ol>
</body>
</html>
"""
)


@control.get("", response_class=HTMLResponse)
async def control_page(state: StateDep) -> HTMLResponse:
    """What the account posted (newest first, with the posts it answered) and the counters."""
    posts = []
    for post in reversed(state.created_posts()):
        parent = state.find_post(post["in_reply_to_tweet_id"] or "")
        if parent is not None:
            data = parent["data"]
            users = (parent.get("includes") or {}).get("users") or []
            author: dict[str, Any] = next(
                (u for u in users if u.get("id") == data.get("author_id")), {}
            )
            # Texts arrive HTML-escaped like X's; unescaped once here, escaped once by Jinja.
            parent_text = html.unescape(str(data.get("text", "")))
            post = {**post, "parent": parent_text, "parent_author": author.get("username")}
        posts.append(post)
    page = _PAGE.render(account=state.account_user(), stats=state.stats(), posts=posts)
    return HTMLResponse(page)


def create_sandbox_app(state: SandboxState) -> FastAPI:
    """The sandbox X API over ``state``; serve it with uvicorn and point tweepy at it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # Playback runs on this server's loop: stop it with the server, not mid-post later.
        state.stop_playback()
        state.disconnect_streams()

    app = FastAPI(
        title="Tribune X sandbox",
        summary="A fake of the X API v2 subset Tribune uses, for tests and rehearsals.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.add_exception_handler(XProblem, _render_problem)
    app.include_router(api)
    app.include_router(control)
    return app


def default_app() -> FastAPI:
    """A sandbox with the default config, for ``uvicorn --factory app.xsandbox.app:default_app``
    (rehearsals: point ``TRIBUNE_X_API_BASE_URL`` at it)."""
    return create_sandbox_app(SandboxState())
