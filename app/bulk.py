"""Bulk inserts for ingest's hot path: thousands of rows in one statement, straight to the driver.

SQLAlchemy's executemany ("insertmanyvalues") builds, processes and flattens a dict of
parameters per row. At 20,000 posts a second that bookkeeping costs more than the database's own
work. Here the values go column by column through the columns' own bind processors (so what is
stored is exactly what SQLAlchemy would store), and a batch is one statement:

- PostgreSQL: one array per column, unnested. The statement's text never changes with the
  number of rows, so asyncpg prepares it once per connection and sends each array in binary.
  A column whose value is the same for the whole batch (``shared``: the LiveEvent, a timestamp,
  a new row's defaults) is one scalar parameter instead: asyncpg checks and encodes an array
  element by element, a cost per row that a constant need not pay.
- SQLite: one multi-row VALUES, with as many rows as the bound-parameter limit allows; without
  RETURNING, the driver's executemany (one prepared statement, a loop in C).

The statements go through ``exec_driver_sql`` on the session's connection: the same transaction,
and the engine's events (``before_cursor_execute``) see their parameters. Values with a NUL are
refused as the engine refuses them everywhere (db.refuse_nul); on SQLite, checked here column by
column, the engine's row-by-row check is skipped.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from app.db import NUL_CHECKED, refuse_nul

# Types whose values are hashable and converted by value alone.
_PLAIN_TYPES = (DateTime, Boolean, Enum)


def _memoised(
    process: Callable[[Any], Any] | None, type_: TypeEngine[Any]
) -> Callable[[list[Any]], list[Any]] | None:
    """A column's bind processor applied to a list of values, once per distinct value where
    values are plain (a batch shares its timestamps, states and flags)."""
    if process is None:
        return None
    if not isinstance(getattr(type_, "impl", type_), _PLAIN_TYPES):
        return lambda values: [process(v) for v in values]

    def each_once(values: list[Any]) -> list[Any]:
        done: dict[Any, Any] = {}
        return [done[v] if v in done else done.setdefault(v, process(v)) for v in values]

    return each_once


@dataclass(frozen=True)
class _Plan:
    """The statement for one dialect, and how to convert each column's values for it."""

    # PostgreSQL: the whole statement. SQLite: what goes before and after the VALUES rows.
    head: str
    tail: str = ""
    # SQLite: one row's placeholders, and how many rows fit under the parameter limit.
    row: str = ""
    rows_per_statement: int = 0
    # Per column: None, or what turns its values into the driver's (a list for a list).
    processors: tuple[Callable[[list[Any]], list[Any]] | None, ...] = ()
    # The columns in the statement's order (the shared ones first), as ``processors``.
    order: tuple[str, ...] = ()
    # Per column, as ``order``: whether its values need a look for NULs. A JSON column's text
    # never holds one (the encoder escapes control characters), and it is most of the bytes.
    nul_prone: tuple[bool, ...] = ()


class BulkInsert:
    """``INSERT INTO table (columns) ... [ON CONFLICT (conflict) DO NOTHING] [RETURNING ...]``
    for many rows at once.

    Every column is given (no Python-side default is filled in): ``columns`` with a value per
    row, ``shared`` with one value for all the rows of a batch. RETURNING rows come in no
    particular order: return a key to match them with.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        shared: Sequence[str] = (),
        conflict: Sequence[str] = (),
        returning: Sequence[str] = (),
    ) -> None:
        if set(columns) & set(shared):
            raise ValueError("a column is either per row or shared, not both")
        self.table = table
        self.columns = tuple(columns)
        self.shared = tuple(shared)
        self.conflict = tuple(conflict)
        self.returning = tuple(returning)
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is not None:
            return plan
        if dialect.name not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"bulk inserts for {dialect.name}")
        quote = dialect.identifier_preparer.quote
        # Shared columns first: on PostgreSQL they are the scalar parameters before the arrays.
        order = (*self.shared, *self.columns)
        columns = [self.table.c[name] for name in order]
        names = ", ".join(quote(c.name) for c in columns)
        head = f"INSERT INTO {dialect.identifier_preparer.format_table(self.table)} ({names})"
        tail = ""
        if self.conflict:
            tail += f" ON CONFLICT ({', '.join(quote(n) for n in self.conflict)}) DO NOTHING"
        if self.returning:
            tail += f" RETURNING {', '.join(quote(n) for n in self.returning)}"
        processors = tuple(
            _memoised(c.type.dialect_impl(dialect).bind_processor(dialect), c.type) for c in columns
        )
        nul_prone = tuple(not isinstance(c.type, JSON) for c in columns)
        # Only names from the Table, quoted by the dialect, go into the text; values are bound.
        if dialect.name == "postgresql":
            types = [f"${i}::{c.type.compile(dialect=dialect)}" for i, c in enumerate(columns, 1)]
            scalars = "".join(f"{t}, " for t in types[: len(self.shared)])
            arrays = ", ".join(f"{t}[]" for t in types[len(self.shared) :])
            rows = f"SELECT {scalars}* FROM unnest({arrays})"  # noqa: S608 - names only
            plan = _Plan(
                f"{head} {rows}{tail}", processors=processors, order=order, nul_prone=nul_prone
            )
        else:
            # SQLAlchemy's own figure for the driver's limit on bound parameters.
            limit = dialect.insertmanyvalues_max_parameters
            plan = _Plan(
                f"{head} VALUES ",
                tail,
                row=f"({', '.join('?' for _ in columns)})",
                rows_per_statement=max(1, limit // len(columns)),
                processors=processors,
                order=order,
                nul_prone=nul_prone,
            )
        self._plans[dialect.name] = plan
        return plan

    def columns_of(self, items: Sequence[object], **given: list[Any]) -> dict[str, list[Any]]:
        """``run``'s per-row values from ``items``: each column is the attribute of the same
        name, unless ``given`` holds it (a column computed, or named otherwise on the items)."""
        return {
            name: given[name] if name in given else [getattr(item, name) for item in items]
            for name in self.columns
        }

    async def run(
        self,
        session: AsyncSession,
        values: Mapping[str, list[Any]],
        shared: Mapping[str, Any] | None = None,
    ) -> list[Sequence[Any]]:
        """Insert rows given column by column (a list per column, all of one length) and the
        ``shared`` columns' one value each, in the session's transaction; the RETURNING rows, if
        any.

        Columns rather than rows: PostgreSQL takes them as they are, and a batch makes no dict
        per row (less to allocate, less for the garbage collector to scan).
        """
        shared = shared or {}
        if set(shared) != set(self.shared):
            raise ValueError(f"shared values needed for exactly {', '.join(self.shared)}")
        count = len(values[self.columns[0]])
        if any(len(values[name]) != count for name in self.columns):
            raise ValueError("every column needs one value per row")
        if not count:
            return []
        connection = await session.connection()
        plan = self._plan(connection.dialect)
        processors = dict(zip(plan.order, plan.processors, strict=True))

        def converted(name: str, column: list[Any]) -> list[Any]:
            process = processors[name]
            return column if process is None else process(column)

        if connection.dialect.name == "postgresql":
            parameters = [converted(name, [shared[name]])[0] for name in self.shared]
            parameters += [converted(name, values[name]) for name in self.columns]
            result = await connection.exec_driver_sql(plan.head, tuple(parameters))
            return list(result.all()) if self.returning else []
        # SQLite binds every value of every row: a shared value is repeated.
        columns = [converted(name, [shared[name]]) * count for name in self.shared]
        columns += [converted(name, values[name]) for name in self.columns]
        # Checked here, a column (a list of strings) at a time: the engine's check would read
        # the rows below value by value, which cost more than the insert's own Python work.
        refuse_nul([c for c, prone in zip(columns, plan.nul_prone, strict=True) if prone])
        rows = list(zip(*columns, strict=True))
        checked = {NUL_CHECKED: True}
        if not self.returning:
            await connection.exec_driver_sql(
                plan.head + plan.row + plan.tail, rows, execution_options=checked
            )
            return []
        returned: list[Sequence[Any]] = []
        step = plan.rows_per_statement
        for start in range(0, count, step):
            chunk = rows[start : start + step]
            statement = plan.head + ", ".join([plan.row] * len(chunk)) + plan.tail
            flat = tuple(chain.from_iterable(chunk))
            result = await connection.exec_driver_sql(statement, flat, execution_options=checked)
            returned.extend(result.all())
        return returned
