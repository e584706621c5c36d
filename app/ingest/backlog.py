"""Reading a source while its last batch is being stored, so that a backlog is stored in big
transactions and a trickle in small ones.

The source is read in a task of its own. When the runner comes back for more, it takes every
batch that queued up meanwhile (up to a cap) and stores them in one transaction with the last
one's cursor. Idle, a batch is stored as soon as it comes: nothing waits to fill a batch.
Under a burst, the transactions grow until they keep up, and their fixed costs (BEGIN, the
LiveEvent's row lock, the cursor, COMMIT, the hub's wake-up) are paid once per thousands of
posts rather than once per few hundred.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from app.ingest.base import Batch
from app.ingest.schemas import NormalisedPost


class Backlog:
    """The batches a source yielded that are not stored yet, merged on the way out.

    ``async with Backlog(source.batches(cursor), max_posts) as backlog:
    async for batch in backlog: ...``. Batches keep their order; a merged batch carries the
    cursor of the last batch in it, which is where the source resumes once it is committed.
    A batch bigger than the cap is never split (its cursor is only valid at its end).
    """

    def __init__(self, batches: AsyncIterator[Batch], max_posts: int) -> None:
        self._batches = batches
        self._max_posts = max(1, max_posts)
        self._queue: deque[Batch] = deque()
        self._queued_posts = 0
        self._ready = asyncio.Event()  # something queued, or the source ended
        self._room = asyncio.Event()  # the queue fell under the cap
        self._ended = False
        self._error: Exception | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._read(), name="tribune-source-reader")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # The runner stopped (cancelled, or storing failed): stop reading, so the source's
        # own cleanup (closing the stream) runs before this returns.
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self) -> None:
        try:
            async for batch in self._batches:
                # Read ahead by at most one transaction's worth: beyond it, the source's own
                # buffer (the stream's queue, the network) holds the rest.
                while self._queued_posts >= self._max_posts:
                    self._room.clear()
                    await self._room.wait()
                self._queue.append(batch)
                self._queued_posts += len(batch.posts)
                self._ready.set()
                # A source with a backlog yields batch after batch without ever waiting: let
                # the rest of the event loop (requests, sockets, the storing) run in between.
                await asyncio.sleep(0)
        except Exception as exc:
            # Stored after what the source yielded before failing, as when nothing read ahead.
            self._error = exc
        finally:
            self._ended = True
            self._ready.set()
            aclose = getattr(self._batches, "aclose", None)
            if aclose is not None:
                await aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Batch:
        while not self._queue:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        taken = [self._queue.popleft()]
        size = len(taken[0].posts)
        while self._queue and size + len(self._queue[0].posts) <= self._max_posts:
            batch = self._queue.popleft()
            taken.append(batch)
            size += len(batch.posts)
        self._queued_posts -= size
        self._room.set()
        if len(taken) == 1:
            return taken[0]
        posts: list[NormalisedPost] = []
        for batch in taken:
            posts.extend(batch.posts)
        # The posts were validated when their batches were made.
        return Batch.model_construct(posts=posts, cursor=taken[-1].cursor)
