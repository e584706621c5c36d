"""The security wall around every request: headers, body caps, CSRF, and rate limits.

Pure ASGI middleware for what applies to every response; a FastAPI dependency for CSRF, so a
new route is covered by construction (tests/test_security.py walks them all).
"""

import hashlib
import hmac
import ipaddress
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from starlette.requests import HTTPConnection

from app import cookies
from app.accounts.deps import session_cookie
from app.errors import AppError, Forbidden

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# No inline script anywhere: pages load their modules from /static and read their data from
# <script type="application/json"> blocks, which are never executed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; frame-src https:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors {ancestors}"
)
# The audience page may be framed by these unless the operator lists the brand's origins:
# any HTTPS site (never plain http, never file: or data:).
DEFAULT_EMBED_ANCESTORS = "https:"
# Mounted apps that set their own headers (the demo's sandbox X API).
UNWRAPPED_PREFIXES = ("/x-sandbox",)


def csp(ancestors: str = "'none'") -> str:
    return CONTENT_SECURITY_POLICY.format(ancestors=ancestors)


class SecurityHeaders:
    """Adds CSP, framing and sniffing headers to every HTTP response that did not set its own
    CSP (the audience page sets one with the LiveEvent's embedding origins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNWRAPPED_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", csp().encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


# Request bodies: JSON is small (a question is 500 characters); nothing needs a megabyte.
MAX_JSON_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """413 for a body over the cap, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        is_json = headers.get(b"content-type", b"").startswith(b"application/json")
        limit = MAX_JSON_BYTES if is_json else MAX_BODY_BYTES
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge as exc:
            await _too_large(send, exc.limit)


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit


async def _too_large(send: Send, limit: int) -> None:
    body = (
        b'{"error":{"code":"too_large","message":"request body over '
        + str(limit // 1024).encode()
        + b' KiB"}}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- CSRF --------------------------------------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
# Before login there is no session to bind a token to: a random cookie, echoed by the form.
PRE_SESSION_COOKIE = "tribune_csrf"
# The audience form's token (no cookie inside a third-party iframe): signed, short-lived.
PUBLIC_TOKEN_SECONDS = 4 * 3600


def _mac(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def session_token(secret: str, session_cookie: str) -> str:
    """The CSRF token of a login session: bound to it, useless with any other."""
    return "s." + _mac(secret, "csrf:" + session_cookie)


def public_token(secret: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + PUBLIC_TOKEN_SECONDS)
    return f"p.{expires}.{_mac(secret, f'public:{expires}')}"


def _valid_public(secret: str, token: str) -> bool:
    try:
        _, expires, mac = token.split(".", 2)
        fresh = int(expires) >= time.time()
    except ValueError:
        return False
    return fresh and hmac.compare_digest(mac, _mac(secret, f"public:{expires}"))


def token_for(request: Request, secret: str) -> str:
    """The token a page embeds for its own state-changing calls."""
    session = session_cookie(request.cookies)
    return session_token(secret, session) if session else public_token(secret)


async def csrf_protect(request: Request) -> None:
    """Refuse a state-changing request that a browser could have been tricked into sending.

    Bearer-token calls carry no ambient credential and pass. Everything else needs a token: the
    session's, the pre-login cookie's echo, or (anonymous) a fresh signed public token. A
    request the browser marks as cross-site is refused whatever it carries.
    """
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("cross-site requests cannot change anything here")
    token = request.headers.get(CSRF_HEADER, "")
    if not token and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        token = field if isinstance(field, str) else ""
    secret: str = request.app.state.settings.secret_key.get_secret_value()
    session = session_cookie(request.cookies)
    pre = cookies.read(request.cookies, PRE_SESSION_COOKIE)
    if token and (
        (session and hmac.compare_digest(token, session_token(secret, session)))
        or (pre and hmac.compare_digest(token, pre))
        or (not session and _valid_public(secret, token))
    ):
        return
    raise Forbidden("missing or invalid CSRF token: reload the page and try again")


# --- Rate limits -------------------------------------------------------------------------------


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"


class SlidingWindow:
    """At most ``limit`` events per ``seconds`` per key, in this worker's memory."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: dict[str, deque[float]] = {}

    def full(self, key: str, now: float | None = None) -> bool:
        """Whether one more event would be refused (counts nothing)."""
        now = now if now is not None else time.monotonic()
        events = self._events.get(key)
        if not events:
            return False
        while events and events[0] <= now - self.seconds:
            events.popleft()
        return len(events) >= self.limit

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Count one event; None if allowed, else the seconds until one is."""
        now = now if now is not None else time.monotonic()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if len(events) >= self.limit:
            return events[0] + self.seconds - now
        events.append(now)
        if len(self._events) > 100_000:  # forget idle clients rather than grow for ever
            for stale in [k for k, v in self._events.items() if not v][:50_000]:
                del self._events[stale]
        return None


def is_https(connection: HTTPConnection, trusted_proxies: list[str]) -> bool:
    """Whether the browser reached Tribune over TLS: directly, or through a configured proxy
    that says so in X-Forwarded-Proto (from anyone else the header means nothing)."""
    if connection.url.scheme in ("https", "wss"):
        return True
    peer = connection.client.host if connection.client else ""
    forwarded = connection.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and _trusted(peer, trusted_proxies)


def client_key(request: HTTPConnection, trusted_proxies: list[str]) -> str:
    """The client's address. X-Forwarded-For counts only when the direct peer is a configured
    proxy, and then its rightmost address that is not a proxy itself (a client can put any
    value at the left of that header)."""
    peer = request.client.host if request.client else "unknown"
    if not _trusted(peer, trusted_proxies):
        return peer
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not _trusted(address, trusted_proxies):
            return address
    return peer


def _trusted(address: str, proxies: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(p, strict=False) for p in proxies)


class LoginLimits:
    """Failed logins, counted per account and per client: guessing is slowed down either way
    (one account from many addresses, or many accounts from one)."""

    # Per account: 5 failures in 15 minutes. Per client: 20 (an office shares an address).
    ACCOUNT_FAILURES = 5
    CLIENT_FAILURES = 20
    WINDOW_SECONDS = 15 * 60

    def __init__(self) -> None:
        self._accounts = SlidingWindow(self.ACCOUNT_FAILURES, self.WINDOW_SECONDS)
        self._clients = SlidingWindow(self.CLIENT_FAILURES, self.WINDOW_SECONDS)

    def blocked(self, account: str, client: str, now: float | None = None) -> bool:
        return self._accounts.full(account, now) or self._clients.full(client, now)

    def failed(self, account: str, client: str, now: float | None = None) -> None:
        self._accounts.hit(account, now)
        self._clients.hit(client, now)
