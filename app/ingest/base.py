"""What every source is: a slug, a title, a typed config, and batches of posts."""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

from pydantic import BaseModel

from app.ingest.schemas import NormalisedPost

# A backlog is stored this many posts a transaction. Past a few hundred, a transaction's fixed
# costs (BEGIN, the LiveEvent's row lock, the cursor, COMMIT, waking the hub) are lost in the
# per-post work: 4,000 store no faster than 1,000 (bench/ingest.py --batch). Smaller batches
# hold the write lock (SQLite's, or the LiveEvent's row on PostgreSQL) and the event loop for
# less time, so a moderator's click waits less behind one.
DEFAULT_MAX_BATCH = 1_000


class Batch(BaseModel):
    """Posts that arrived together, and the cursor to store once they are committed."""

    posts: list[NormalisedPost]
    cursor: str


class Source(ABC):
    """One connection to one network for one LiveEvent.

    ``batches`` resumes after ``cursor`` (what the last committed batch returned) and yields
    until the source is exhausted or cancelled. It must not write to the database: the runner
    stores each batch and its cursor in one transaction.
    """

    slug: ClassVar[str]
    title: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    # Set by the runner: how the source tells the operator its state ("connected",
    # "reconnecting", "stopped"...) with a human detail.
    reporter: Callable[[str, str], Awaitable[None]] | None = None
    # The most posts the runner stores in one transaction when batches queue up faster than it
    # stores them (TRIBUNE_INGEST_BATCH_SIZE, set by registry.build_source).
    max_batch: int = DEFAULT_MAX_BATCH

    @abstractmethod
    def batches(self, cursor: str) -> AsyncIterator[Batch]: ...

    async def report(self, status: str, detail: str = "") -> None:
        if self.reporter is not None:
            await self.reporter(status, detail)
