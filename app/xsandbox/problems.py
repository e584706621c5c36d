"""X's error bodies (RFC 7807-like "problems"), so clients parse sandbox errors as X's own.

No body here ever contains a credential: they are fixed texts plus request parameters that are
not secrets (a query, a post id, a text length).
"""

from http import HTTPStatus
from typing import Any

INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
INVALID_RULES = "https://api.twitter.com/2/problems/invalid-rules"
DUPLICATE_RULES = "https://api.twitter.com/2/problems/duplicate-rules"
RULE_CAP = "https://api.twitter.com/2/problems/rule-cap"
STREAMING_CONNECTION = "https://api.twitter.com/2/problems/streaming-connection"

REPLY_NOT_ALLOWED = (
    "Reply to this conversation is not allowed because you have not been mentioned or otherwise"
    " engaged by the author of the post you are replying to."
)
DUPLICATE_CONTENT = "You are not allowed to create a Tweet with duplicate content."


class XProblem(Exception):
    """An X error answer: raised by the state or a route, rendered as is by the app."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {body.get('title', '')}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def plain(status: int, detail: str | None = None) -> dict[str, Any]:
    """The ``about:blank`` shape X uses for 401, 403, 429 and 5xx answers."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # an injected status Python has no name for
        phrase = "Error"
    return {"title": phrase, "detail": detail or phrase, "type": "about:blank", "status": status}


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> XProblem:
    """400 for a bad parameter or body, as X words it."""
    error: dict[str, Any] = {"message": message}
    error["parameters"] = parameters or {}
    body = {
        "errors": [error],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST,
    }
    return XProblem(400, body)


def unauthorized() -> XProblem:
    """401, deliberately without saying which credential was wrong."""
    return XProblem(401, plain(401, "Unauthorized"))


def forbidden(detail: str) -> XProblem:
    """403 with X's detail text (summoned-reply rule, duplicate content)."""
    return XProblem(403, plain(403, detail))


def too_many_requests(headers: dict[str, str]) -> XProblem:
    """429 with the rate-limit headers that tell the client when to come back."""
    return XProblem(429, plain(429, "Too Many Requests"), headers)


def too_many_connections() -> XProblem:
    """429 for a second concurrent filtered-stream connection (1 allowed on pay-per-use)."""
    body = {
        "title": "ConnectionException",
        "detail": "This stream is currently at the maximum allowed connection limit.",
        "connection_issue": "TooManyConnections",
        "type": STREAMING_CONNECTION,
    }
    return XProblem(429, body)
