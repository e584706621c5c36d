from pydantic import BaseModel


class Health(BaseModel):
    status: str
    worker: str


class Check(BaseModel):
    ok: bool
    detail: str = ""


class SourceState(BaseModel):
    id: int
    live_event: str
    kind: str
    status: str
    worker: str


class Readiness(BaseModel):
    """Whether this worker can serve: its database, and Redis when fan-out goes through it."""

    ready: bool
    worker: str
    database: Check
    redis: Check
    # For the operator: every enabled source, its state and the worker running it.
    sources: list[SourceState]
