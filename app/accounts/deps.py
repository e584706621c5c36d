"""Request authentication: a bearer token (JSON API) or the session cookie (pages)."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app import cookies
from app.accounts import service
from app.accounts.models import Role, User
from app.db import SessionDep
from app.errors import Forbidden, Unauthorized

# The login session's cookie (``__Host-tribune_session`` over HTTPS: see app/cookies.py).
SESSION_COOKIE = "tribune_session"


def session_cookie(jar: Mapping[str, str]) -> str | None:
    return cookies.read(jar, SESSION_COOKIE)


async def user_from_credentials(
    session: AsyncSession, authorization: str | None, cookie: str | None
) -> User | None:
    """The user behind a request's credentials, or None. Shared by HTTP and WebSocket."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        user = await service.user_for_api_token(session, token.strip())
        if user is None:
            raise Unauthorized("unknown, revoked or disabled API token")
        return user
    if cookie:
        return await service.user_for_web_session(session, cookie)
    return None


async def optional_user(request: Request, session: SessionDep) -> User | None:
    return await user_from_credentials(
        session, request.headers.get("authorization"), session_cookie(request.cookies)
    )


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("log in or send 'Authorization: Bearer <token>'")
    return user


def require_roles(*roles: Role) -> Callable[[User], Awaitable[User]]:
    allowed = frozenset(roles)

    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"this needs the role {names}; you are {user.role.value}")
        return user

    return check


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
Admin = Annotated[User, Depends(require_roles(Role.admin))]
