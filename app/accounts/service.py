"""Users, password hashes, login sessions and API tokens."""

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import ApiToken, Role, User, WebSession
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound

# argon2-cffi's defaults are RFC 9106's low-memory profile (Argon2id, t=3, 64 MiB, p=4),
# above OWASP's minimum (19 MiB, t=2, p=1).
_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Verifying against this when the user does not exist keeps login time the same either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    session: AsyncSession, username: str, password: str, role: Role, display_name: str = ""
) -> User:
    """Create a user; the username must be new and the password long enough."""
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
    ):
        raise Invalid("username: 1 to 64 letters, digits, '.', '-' or '_'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with this password, or None (same work whether or not it exists)."""
    user = await session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


async def create_api_token(session: AsyncSession, user: User, name: str) -> str:
    """Create a bearer token and return it: the only time it is ever shown."""
    token = "trb_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_digest(token)))
    await session.flush()
    return token


async def user_for_api_token(session: AsyncSession, token: str) -> User | None:
    row = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    user = await session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


async def create_web_session(session: AsyncSession, user: User, hours: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            user_id=user.id,
            token_hash=_digest(token),
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    await session.flush()
    return token


async def user_for_web_session(session: AsyncSession, token: str) -> User | None:
    row = await session.scalar(select(WebSession).where(WebSession.token_hash == _digest(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = await session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


async def end_web_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.username))).all())


async def end_sessions(session: AsyncSession, user: User) -> None:
    """Every login session of the user ends (their sockets notice within seconds)."""
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))


async def disable_user(session: AsyncSession, user: User) -> None:
    """The user can no longer log in, and nothing they hold works any more."""
    user.is_active = False
    await end_sessions(session, user)
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    await end_sessions(session, user)
