"""The one error family the app raises on purpose, and its single JSON rendering."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    """An error a client can act on; ``status_code`` is always a 4xx."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class Invalid(AppError):
    status_code = 400
    code = "invalid"


class DatabaseBusy(Exception):
    """A lock stayed taken past db.BUSY_TIMEOUT_MS: nothing of the transaction was stored, and
    the same request can be tried again (a 503 with Retry-After)."""


# SQLite's result codes for a lock held elsewhere (SQLITE_BUSY, SQLITE_LOCKED), and
# PostgreSQL's SQLSTATE for lock_timeout (lock_not_available).
_SQLITE_BUSY_CODES = frozenset({5, 6})
_PG_LOCK_NOT_AVAILABLE = "55P03"


def is_busy(error: BaseException) -> bool:
    """Whether a database error says a lock was not had in time (see db.BUSY_TIMEOUT_MS)."""
    orig = getattr(error, "orig", error)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    return getattr(orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE


class ErrorDetail(BaseModel):
    code: str
    message: str
    # Present only when there is more to say: the validation problems, the current state.
    details: dict[str, Any] | None = None


class ErrorOut(BaseModel):
    """Every 4xx body the API sends, whatever raised it (see ``error_body``)."""

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "The request cannot be done as given.",
    401: "No valid credentials: log in, or send 'Authorization: Bearer <token>'.",
    403: "The credentials lack the role, or the CSRF token is missing or invalid.",
    404: "Nothing by that name or id.",
    409: "The request conflicts with the current state (a stale version, a taken name).",
    413: "The request body is over the cap.",
    422: "The request does not match its documented shape.",
    429: "Too many requests: Retry-After says when to try again.",
    503: "The database stayed busy: nothing was stored; Retry-After says when to try again.",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
    },
    503: {
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
    },
}
# What any API operation may answer besides its success: every one sits behind the same
# authentication, CSRF check, body cap and validation, on the same database (503 when a lock
# stays taken). 429 is not here: only rate-limited operations send it, and they document it
# with ``error_responses(429)``.
COMMON_ERRORS = (400, 401, 403, 404, 409, 413, 422, 503)
# How long a client should wait after a 503: the lock it waited for is usually free by then.
BUSY_RETRY_AFTER_SECONDS = 1


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the ``ErrorOut`` body."""
    return {
        status: {
            "model": ErrorOut,
            "description": ERROR_DESCRIPTIONS[status],
            **({"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {}),
        }
        for status in statuses
    }


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, **({"details": details} if details else {})}
    }


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as ``ErrorOut``, and say so in the OpenAPI document.

    Call it before including routers: the documented responses reach the routes included
    after it (as ``FastAPI(responses=...)`` would). Without them the document would promise
    FastAPI's default 422 body and none of the statuses the handlers below send.
    """
    app.router.responses = {**error_responses(*COMMON_ERRORS), **app.router.responses}

    async def on_app_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        if "retry_after" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after"])
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), exc.status_code, headers=headers
        )

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        problems = [
            {"loc": list(e.get("loc", ())), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"loc": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return JSONResponse(
            error_body("validation_error", f"{where}: {first['message']}", problems=problems),
            422,
        )

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        return JSONResponse(
            error_body("http_error", str(exc.detail)), exc.status_code, headers=exc.headers
        )

    async def on_database_error(_request: Request, exc: Exception) -> JSONResponse:
        # A lock that stayed taken is the database's state, not the request's fault or a bug:
        # say so, and when to retry. Any other database error is a bug: a plain 500.
        if not isinstance(exc, DatabaseBusy) and not is_busy(exc):
            raise exc
        return JSONResponse(
            error_body("busy", "The database is busy: nothing was stored. Try again."),
            503,
            headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(DatabaseBusy, on_database_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
