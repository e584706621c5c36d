"""tweepy clients whose every request goes to ``TRIBUNE_X_API_BASE_URL``.

tweepy 4.17 hard-codes ``https://api.twitter.com`` in the v2 clients (see ../shared/X_API.md).
The sync ``Client`` and ``StreamingClient`` send everything through one ``requests.Session``,
so a transport adapter mounted on that session for X's hosts rewrites each prepared request to
the configured base URL just before it leaves. Signing (OAuth 1.0a) has already happened on the
canonical URL by then, exactly as it would for X itself.
"""

from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy
from pydantic import BaseModel, SecretStr
from requests.adapters import HTTPAdapter

X_HOSTS = ("https://api.twitter.com", "https://api.x.com")
X_DEFAULT_BASE_URL = "https://api.twitter.com"


class XCredentials(BaseModel):
    """What Tribune needs to read (an app bearer token) and to post (user context)."""

    bearer_token: SecretStr | None = None
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    # An OAuth 2.0 user-context access token, the alternative to the four OAuth 1.0a values.
    user_access_token: SecretStr | None = None

    @property
    def can_read(self) -> bool:
        return self.bearer_token is not None

    @property
    def can_post(self) -> bool:
        oauth1 = (
            self.consumer_key,
            self.consumer_secret,
            self.access_token,
            self.access_token_secret,
        )
        return all(v is not None for v in oauth1) or self.user_access_token is not None

    def secret_values(self) -> list[str]:
        """Every secret, for log redaction and canary tests."""
        values = (
            self.bearer_token,
            self.consumer_key,
            self.consumer_secret,
            self.access_token,
            self.access_token_secret,
            self.user_access_token,
        )
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


# tweepy's Client sends requests with no timeout at all; a request to X that hangs must end,
# so that an unknown outcome is detected and reconciled. (connect, read) in seconds. The
# filtered stream passes its own read timeout (21 s, above X's 20 s keep-alive).
DEFAULT_TIMEOUT = (5.0, 15.0)


class BaseUrlAdapter(HTTPAdapter):
    """Sends requests meant for X's hosts to ``base_url`` (scheme, host, port, prefix), with a
    timeout when the caller gave none."""

    def __init__(
        self, base_url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        for host in X_HOSTS:
            if url.startswith(host + "/"):
                request.url = self.base_url + url[len(host) :]
                break
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


def point_session(
    session: requests.Session, base_url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT
) -> None:
    """Route the session's X requests to ``base_url`` (X itself in production)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"TRIBUNE_X_API_BASE_URL must be an http(s) URL, not {base_url!r}")
    adapter = BaseUrlAdapter(base_url, timeout)
    for host in X_HOSTS:
        session.mount(host + "/", adapter)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def make_client(
    credentials: XCredentials, base_url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT
) -> tweepy.Client:
    """A sync tweepy Client for user-context calls (posting, users/me).

    It returns raw ``requests.Response`` objects: Tribune parses X's JSON itself (the same pure
    parser as the stream) and reads the rate-limit headers."""
    oauth2_user = credentials.user_access_token is not None and credentials.consumer_key is None
    client = tweepy.Client(
        # An OAuth 2.0 user token is sent as a bearer token with user_auth=False.
        bearer_token=_secret(
            credentials.user_access_token if oauth2_user else credentials.bearer_token
        ),
        consumer_key=_secret(credentials.consumer_key),
        consumer_secret=_secret(credentials.consumer_secret),
        access_token=_secret(credentials.access_token),
        access_token_secret=_secret(credentials.access_token_secret),
        wait_on_rate_limit=False,
        return_type=requests.Response,
    )
    point_session(client.session, base_url, timeout)
    return client


def make_search_client(
    credentials: XCredentials, base_url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT
) -> tweepy.Client:
    """A sync tweepy Client for app-only reads (recent search) with the bearer token."""
    client = tweepy.Client(
        bearer_token=_secret(credentials.bearer_token),
        wait_on_rate_limit=False,
        return_type=requests.Response,
    )
    point_session(client.session, base_url, timeout)
    return client
