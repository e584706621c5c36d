"""How uvicorn runs Tribune: one set of options for `tribune serve`, the demo and the tests."""

from typing import Any

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


def uvicorn_options(log_level: str = "info") -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` (all but app, host, port)."""
    return {
        "log_level": log_level.lower(),
        "ws": "websockets-sansio",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        # Tribune decides whom to believe about X-Forwarded-For (TRIBUNE_TRUSTED_PROXIES);
        # uvicorn's own handling would trust it from 127.0.0.1 and rewrite the client address.
        "proxy_headers": False,
        # No client message needs more (they send nothing but pings): 64 KiB.
        "ws_max_size": 64 * 1024,
    }
