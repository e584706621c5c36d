"""How uvicorn runs Tribune: one set of options for `tribune serve`, the demo and the tests."""

from typing import Any

from app.config import get_settings
from app.realtime.wire import PrebuiltFramesProtocol

# On shutdown uvicorn waits for open HTTP responses; a long-lived one (the demo's sandbox
# stream) must not hold a stop forever. Sockets are closed by uvicorn itself.
GRACEFUL_SHUTDOWN_SECONDS = 3

# Idle keep-alive connections are closed by the side with the shorter timeout. If uvicorn
# closed first (its default is 5 s), a client or proxy reusing the connection at that moment
# gets "server disconnected without a response". Outlasting the common proxy idle timeouts
# (nginx and cloud load balancers: 60 s) leaves that close to them.
KEEP_ALIVE_SECONDS = 75


# `tribune serve --workers N` tells its worker processes whether to run ingest sources.
SERVE_SOURCES_ENV = "TRIBUNE_SERVE_SOURCES"


def uvicorn_options(log_level: str = "info", *, ws_deflate: bool | None = None) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` (all but app, host, port).

    ``ws_deflate`` defaults to the environment's ``TRIBUNE_WS_DEFLATE`` (off); a caller
    holding its own Settings passes ``settings.ws_deflate``.
    """
    if ws_deflate is None:
        ws_deflate = get_settings().ws_deflate
    return {
        "log_level": log_level.lower(),
        # uvicorn's websockets-sansio, with updates written to sockets as prebuilt frames.
        "ws": PrebuiltFramesProtocol,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        # Tribune decides whom to believe about X-Forwarded-For (TRIBUNE_TRUSTED_PROXIES);
        # uvicorn's own handling would trust it from 127.0.0.1 and rewrite the client address.
        "proxy_headers": False,
        # No client message needs more (they send nothing but pings): 64 KiB.
        "ws_max_size": 64 * 1024,
        # A reconnect storm (a network blip) brings thousands of sockets back within a second.
        # Past the accept queue the kernel drops their SYNs and each waits for a retransmit
        # (1 s, then 3 s, 7 s); uvicorn's 2048 is doubled. The kernel caps it at somaxconn.
        "backlog": 4096,
        # Per-message deflate compresses each frame once per socket: 10,000 audience sockets
        # would compress every update 10,000 times (the updates are serialised once, and
        # should be sent as they are), and each socket would hold its own zlib state. It is
        # settled in the handshake, before the app runs, so it cannot differ by channel
        # through ASGI: off for all unless TRIBUNE_WS_DEFLATE=1.
        "ws_per_message_deflate": ws_deflate,
    }
