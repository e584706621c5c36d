"""A small WebSocket test client over the real ``websockets`` library."""

import asyncio
import json
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

SYSTEM_TYPES = {"hello", "heartbeat", "pong", "resync"}


class Channel:
    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.conn: ClientConnection | None = None
        self.frames: list[str] = []

    async def __aenter__(self) -> "Channel":
        self.conn = await connect(self.url, additional_headers=self.headers, open_timeout=5)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def recv(self, within: float = 5.0) -> dict[str, Any]:
        assert self.conn is not None
        frame = await asyncio.wait_for(self.conn.recv(), within)
        assert isinstance(frame, str)
        self.frames.append(frame)
        message: dict[str, Any] = json.loads(frame)
        return message

    async def updates_until(self, seq: int, within: float = 5.0) -> list[dict[str, Any]]:
        """Every non-system message until one with ``seq`` (or later) arrives."""
        got: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            message = await self.recv(max(0.01, deadline - loop.time()))
            if message["type"] in SYSTEM_TYPES:
                continue
            got.append(message)
            if message["seq"] >= seq:
                return got

    async def quiet_for(self, seconds: float) -> list[dict[str, Any]]:
        """Non-system messages received during ``seconds`` (expected: none)."""
        got: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                message = await self.recv(left)
            except TimeoutError:
                break
            if message["type"] not in SYSTEM_TYPES:
                got.append(message)
        return got
