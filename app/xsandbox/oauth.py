"""Authentication as X checks it: an app bearer token, or user context (OAuth 1.0a or OAuth 2).

OAuth 1.0a signatures are verified with oauthlib against the canonical URL (X's base URL plus
the request path and query), not the sandbox's own address: tweepy signs for
``https://api.twitter.com`` and the transport adapter rewrites the host only afterwards.
"""

import hmac
import time
from types import SimpleNamespace
from urllib.parse import parse_qsl

from oauthlib.oauth1.rfc5849 import (  # type: ignore[import-untyped]
    signature as oauth_signature,
)
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from app.xsandbox.state import SandboxConfig

# X refuses OAuth 1.0a requests whose timestamp is too far from its clock.
MAX_CLOCK_SKEW_SECONDS = 15 * 60


def _equal(given: str, expected: str) -> bool:
    # Constant time, so the sandbox does not teach timing attacks by example.
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of a ``Bearer`` Authorization header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_app(config: SandboxConfig, authorization: str | None) -> bool:
    """App-only context: ``Bearer <bearer_token>``."""
    token = bearer_token(authorization)
    return token is not None and _equal(token, config.bearer_token)


def is_user(
    config: SandboxConfig,
    authorization: str | None,
    method: str,
    path: str,
    query: str,
    form_body: str = "",
) -> bool:
    """User context: ``Bearer <user_access_token>`` or a valid OAuth 1.0a HMAC-SHA1 signature.

    ``form_body`` is the body when it is ``application/x-www-form-urlencoded`` (its parameters
    are signed); JSON bodies, like tweepy's, are not part of the signature.
    """
    if not authorization:
        return False
    token = bearer_token(authorization)
    if token is not None:
        return _equal(token, config.user_access_token)
    return _oauth1_valid(config, authorization, method, path, query, form_body)


def _oauth1_valid(
    config: SandboxConfig, authorization: str, method: str, path: str, query: str, form_body: str
) -> bool:
    try:
        header_params = dict(oauth_utils.parse_authorization_header(authorization))
        params = oauth_signature.collect_parameters(
            uri_query=query,
            body=parse_qsl(form_body, keep_blank_values=True),
            headers={"Authorization": authorization},
            exclude_oauth_signature=True,
        )
    except ValueError:
        return False
    oauth = {key: oauth_utils.unescape(value) for key, value in header_params.items()}
    signature = oauth.get("oauth_signature", "")
    try:
        timestamp = int(oauth.get("oauth_timestamp", ""))
    except ValueError:
        return False
    if (
        oauth.get("oauth_signature_method") != "HMAC-SHA1"
        or not signature
        or not oauth.get("oauth_nonce")
        or abs(time.time() - timestamp) > MAX_CLOCK_SKEW_SECONDS
        or not _equal(oauth.get("oauth_consumer_key", ""), config.consumer_key)
        or not _equal(oauth.get("oauth_token", ""), config.access_token)
    ):
        return False
    uri = oauth_signature.base_string_uri(config.canonical_base_url.rstrip("/") + path)
    base_string = oauth_signature.signature_base_string(
        method.upper(), uri, oauth_signature.normalize_parameters(params)
    )
    # Signed here and compared below rather than with oauthlib's verify_hmac_sha1, which logs
    # the base string (consumer key and access token included) when a signature is wrong.
    secrets = SimpleNamespace(
        client_secret=config.consumer_secret, resource_owner_secret=config.access_token_secret
    )
    expected = str(oauth_signature.sign_hmac_sha1_with_client(base_string, secrets))
    return _equal(signature, expected)
