"""Tribune's cookies: the login session and the pre-login CSRF cookie.

Over HTTPS each carries the ``__Host-`` prefix: the browser then accepts it only when it is
Secure, set by this exact host for every path, so no subdomain and no plain-HTTP page can set
or shadow it. Plain HTTP (the demo, a laptop) cannot hold a ``__Host-`` cookie, so there it
goes by its bare name.
"""

from collections.abc import Mapping
from typing import Literal

from starlette.responses import Response

HOST_PREFIX = "__Host-"


def read(cookies: Mapping[str, str], name: str) -> str | None:
    """The cookie's value, under either name (the secure one first)."""
    return cookies.get(HOST_PREFIX + name) or cookies.get(name) or None


def put(
    response: Response,
    name: str,
    value: str,
    *,
    https: bool,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        HOST_PREFIX + name if https else name,
        value,
        max_age=max_age,
        path="/",  # __Host- requires it, and no Domain
        secure=https,
        httponly=True,
        samesite=samesite,
    )


def drop(response: Response, name: str, *, https: bool) -> None:
    response.delete_cookie(HOST_PREFIX + name if https else name, path="/", secure=https)
