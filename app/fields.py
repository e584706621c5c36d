"""Field helpers shared by the API's schemas."""

from typing import Any


def never_null(schema: dict[str, Any]) -> None:
    """Documents an ``X | None = None`` field as X alone: it may be left out (keep the current
    value), never sent as null. Pair it with ``reject_null`` as a field validator."""
    options = schema.pop("anyOf")
    schema.pop("default", None)
    schema.update(next(option for option in options if option.get("type") != "null"))


def reject_null(value: object) -> object:
    """A PATCH field that always has a value: a null would be stored as one, so refuse it."""
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep it")
    return value
