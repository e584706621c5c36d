"""A small WebSocket test client over the real ``websockets`` library.

The server coalesces updates read together into one message, a JSON array of them. This client
hands them out one at a time, so that tests see every update with its own seq either way;
``frames`` keeps what came over the wire, one entry per message.
"""

import asyncio
import json
from collections import deque
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

SYSTEM_TYPES = {"hello", "heartbeat", "pong", "resync"}


class Channel:
    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.conn: ClientConnection | None = None
        # Every message as received: a batch is one frame.
        self.frames: list[str] = []
        # Every message decoded, batches unpacked, in order: what recv() has handed out.
        self.messages: list[dict[str, Any]] = []
        self._unread: deque[dict[str, Any]] = deque()

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
        """The next message; the updates of a batch come one by one."""
        if not self._unread:
            assert self.conn is not None
            frame = await asyncio.wait_for(self.conn.recv(), within)
            assert isinstance(frame, str)
            self.frames.append(frame)
            decoded = json.loads(frame)
            if isinstance(decoded, list):
                assert decoded, "a batch is never empty"
                self._unread.extend(decoded)
            else:
                self._unread.append(decoded)
        message: dict[str, Any] = self._unread.popleft()
        self.messages.append(message)
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
