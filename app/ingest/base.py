"""What every source is: a slug, a title, a typed config, and batches of posts."""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

from pydantic import BaseModel

from app.ingest.schemas import NormalisedPost


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

    @abstractmethod
    def batches(self, cursor: str) -> AsyncIterator[Batch]: ...

    async def report(self, status: str, detail: str = "") -> None:
        if self.reporter is not None:
            await self.reporter(status, detail)
