"""SQLite: the statements every update runs, compiled once and run on sqlite3 directly.

Even inline (storage/database.py InlineCursor), one statement through SQLAlchemy's
Connection.execute costs about as much CPU as the pure engine's whole answer (issue #8,
cProfile of the capacity bench: cache key, execution context, result metadata, events —
a third of an update). The statements of the hot path are built once (module constants or
`lru_cache`d builders), so their SQL, the order of their parameters and their types'
converters never change: `hot` marks such a statement, and `Prepared.run` executes it
with the converters SQLAlchemy itself would use (`_bind_processors`, the result columns'
processors), fires `before_cursor_execute` as SQLAlchemy does (the benches count
statements with it), and hands errors to SQLAlchemy's own handler, so callers see the
same exceptions (IntegrityError, OperationalError…) and a dead connection is invalidated.

Only statements this can run exactly are prepared (`Prepared.build` returns None
otherwise): positional parameters, IN lists only of values fixed in the statement, no
Python-side column defaults to compute, and no RETURNING on an executemany (SQLAlchemy
batches those into one INSERT, "insertmanyvalues"). The rest take SQLAlchemy's path unchanged.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

S = TypeVar("S", bound=Executable)

# id(statement) -> (weak reference to it, its Prepared once built, or None: not preparable).
_HOT: dict[int, tuple[weakref.ref[Any], Prepared | bool | None]] = {}
_UNBUILT = False  # marks a hot statement not compiled yet


def hot(statement: S) -> S:
    """Mark a statement built once and run by every update; returns it unchanged.

    Call it only where the statement object lives on (a module constant or the return of
    an `lru_cache`d builder): its compiled form is kept while it exists, keyed by identity.
    """
    key = id(statement)

    # The table is bound here: at interpreter exit the module's globals may already be None
    # when the last statements are collected.
    def forget(ref: weakref.ref[Any], key: int = key, table: dict[int, Any] = _HOT) -> None:
        if table.get(key, (None,))[0] is ref:
            del table[key]

    _HOT[key] = (weakref.ref(statement, forget), _UNBUILT)
    return statement


def prepared_for(statement: Executable, dialect: Dialect) -> Prepared | None:
    """The statement's Prepared if it is marked `hot` and can run directly, else None."""
    entry = _HOT.get(id(statement))
    if entry is None or entry[0]() is not statement:
        return None
    built = entry[1]
    if built is _UNBUILT:
        built = Prepared.build(statement, dialect)
        _HOT[id(statement)] = (entry[0], built)
    return built  # type: ignore[return-value]


class Rows(IteratorResult[Any]):
    """A Result over rows already fetched, with the cursor's rowcount."""

    rowcount: int = -1


@dataclass(frozen=True, slots=True)
class Prepared:
    """One statement's SQL with what SQLAlchemy would do around it, computed once."""

    sql: str
    construct: Callable[..., dict[str, Any]]
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    fixed: dict[str, Any]  # the values of IN lists fixed in the statement, by expanded name
    metadata: SimpleResultMetaData | None
    converters: tuple[Callable[[Any], Any] | None, ...]
    returning: bool

    @classmethod
    def build(cls, statement: Executable, dialect: Dialect) -> Prepared | None:
        """Compile `statement` for `dialect`; None when it needs more than a plain run.

        IN lists of values fixed in the statement (`column.in_([...])`: anonymous, unique
        parameters) are expanded here once, as SQLAlchemy would on every run; an IN list
        or literal the caller passes would differ per run, so such a statement is refused.
        """
        compiled: Any = statement.compile(dialect=dialect)
        post_compile = compiled.post_compile_params
        if (
            not compiled.positional
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or not all(bind.unique for bind in post_compile)
        ):
            return None
        sql, names = compiled.string, compiled.positiontup
        processors = dict(compiled._bind_processors)
        fixed: dict[str, Any] = {}
        if post_compile:
            base = compiled.construct_params(_check=False)
            expanded = compiled._process_parameters_for_postcompile(base)
            sql, names = expanded.statement, expanded.positiontup
            processors.update(expanded.processors)
            fixed = {
                name: expanded.parameters[name]
                for names_of_one in expanded.parameter_expansion.values()
                for name in names_of_one
            }
        columns = compiled._result_columns
        metadata = None
        converters: tuple[Callable[[Any], Any] | None, ...] = ()
        if columns:
            metadata = SimpleResultMetaData([c.keyname for c in columns])
            converters = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
        return cls(
            sql=sql,
            construct=compiled.construct_params,
            binds=tuple((name, processors.get(name)) for name in names),
            fixed=fixed,
            metadata=metadata,
            converters=converters,
            returning=bool(columns),
        )

    def _positional(self, params: dict[str, Any] | None) -> tuple[Any, ...]:
        values = self.construct(params)
        if self.fixed:
            values.update(self.fixed)
        return tuple(
            values[name] if convert is None else convert(values[name])
            for name, convert in self.binds
        )

    def run(
        self,
        conn: Connection,
        raw: sqlite3.Connection,
        params: dict[str, Any] | Sequence[dict[str, Any]] | None,
    ) -> Rows | None:
        """Run on `raw` (the sqlite3 connection under `conn`, inside its transaction).

        None: this call needs SQLAlchemy's path (RETURNING over several parameter sets).
        """
        many = isinstance(params, list)
        if many and self.returning:
            return None
        args: Any = [self._positional(p) for p in params] if many else self._positional(params)  # type: ignore[union-attr,arg-type]
        if conn._has_events or conn.engine._has_events:
            conn.dispatch.before_cursor_execute(conn, None, self.sql, args, None, many)
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(self.sql, args)
            else:
                cursor.execute(self.sql, args)
            fetched = cursor.fetchall() if self.returning else ()
        except sqlite3.Error as exc:
            conn._handle_dbapi_exception(exc, self.sql, args, cursor, None)
        finally:
            rowcount = cursor.rowcount
            cursor.close()
        if self.returning:
            converters = self.converters
            fetched = [
                tuple(v if c is None else c(v) for v, c in zip(row, converters, strict=True))
                for row in fetched
            ]
        result = Rows(self.metadata or SimpleResultMetaData([]), iter(fetched))
        result.rowcount = rowcount
        return result
