"""Settings, read once from the environment (prefix ``TRIBUNE_``) or a ``.env`` file."""

from functools import lru_cache
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.x.client import XCredentials

# The placeholder secret. It signs nothing that matters in demo mode, and outside demo mode
# the app refuses to start with it (see Settings.check_production_ready).
DEFAULT_SECRET_KEY = "tribune-insecure-default-secret"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIBUNE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./tribune.db"
    # Empty means the in-process hub: fine for one worker, the embedded default.
    redis_url: str = ""
    # The Redis pub/sub channel the workers of one deployment share (several deployments may
    # share a Redis with different channels).
    redis_channel: str = "tribune:updates"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    demo: bool = False
    x_api_base_url: str = "https://api.twitter.com"
    # X credentials: an app bearer token for reading (stream, search); OAuth 1.0a user tokens
    # (the four values) or an OAuth 2.0 user access token for posting. Never logged.
    x_bearer_token: SecretStr | None = None
    x_consumer_key: SecretStr | None = None
    x_consumer_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_user_access_token: SecretStr | None = None
    # Where a published post can be seen; {handle} and {id} are filled in.
    x_post_url: str = "https://x.com/{handle}/status/{id}"
    # Multiplies every X reconnect and retry wait (X's rules: 5 s to 320 s, 60 s after a 429).
    # 1 in production; tests and rehearsals against the sandbox shrink it.
    x_backoff_scale: float = 1.0
    host: str = "127.0.0.1"
    port: int = 8000

    # How many updates behind a client may resume from; further behind it is told to resync
    # (reload a fresh snapshot) rather than replay a long history message by message.
    resume_window: int = 5000
    # Per-connection send queue. A client that lets this many messages pile up is disconnected
    # and resumes from its last seq: it must never slow the other clients down.
    ws_queue_size: int = 512
    # Staff sockets one account may hold open on a worker (each screen is one; a few tabs and
    # devices fit). Beyond it a new socket is refused: a leaked token cannot open thousands.
    ws_connections_per_user: int = 12
    # Per-message deflate on the sockets, all channels alike (uvicorn settles it in the
    # handshake, before the app sees the connection). Off by default: each socket would
    # compress every frame again, undoing "serialise once", and keep a zlib state (~40 KiB).
    ws_deflate: bool = False
    # Pages show "stale" when no message arrives for about twice this long.
    heartbeat_seconds: float = 10.0
    # Each worker also polls the update log this often while it has subscribers, so an update
    # written by another process (the CLI replay, a second worker) reaches its clients even
    # when no notification does.
    poll_seconds: float = 1.0
    # Ingest batches: posts that queued up while the last batch was stored go in one
    # transaction, never more than this many (see ingest.base.DEFAULT_MAX_BATCH).
    ingest_batch_size: int = 1_000
    # Bearer and cookie session lifetime.
    session_hours: int = 12
    log_level: str = "INFO"
    # "text" for people, "json" (one object per line, with the worker) for log collectors.
    log_format: Literal["text", "json"] = "text"
    # Questions one client may send from the audience form per minute.
    audience_questions_per_minute: int = 5
    # Proxies whose X-Forwarded-For is believed (addresses or networks, e.g. "10.0.0.0/8").
    # Empty: the direct peer is the client, whatever headers say.
    trusted_proxies: list[str] = []
    # Origins whose pages may open the moderation and presenter sockets, besides Tribune's own
    # (exact match: scheme://host[:port]).
    allowed_origins: list[str] = []

    def check_production_ready(self) -> None:
        """Refuse to run for real with the placeholder secret."""
        if not self.demo and self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
            raise RuntimeError(
                "TRIBUNE_SECRET_KEY is the built-in placeholder; set a long random value "
                "(for example `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                "or run in demo mode with TRIBUNE_DEMO=1."
            )

    def x_credentials(self) -> XCredentials:
        return XCredentials(
            bearer_token=self.x_bearer_token,
            consumer_key=self.x_consumer_key,
            consumer_secret=self.x_consumer_secret,
            access_token=self.x_access_token,
            access_token_secret=self.x_access_token_secret,
            user_access_token=self.x_user_access_token,
        )

    def secret_values(self) -> list[str]:
        """Every configured secret, so log handlers can redact them wherever they appear."""
        return [self.secret_key.get_secret_value(), *self.x_credentials().secret_values()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
