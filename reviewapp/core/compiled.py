"""Statements compiled once per process, for the few reads nearly every request makes.

Building and compiling a queryset costs Python far more than PostgreSQL takes to answer a
one-row lookup: the membership of a review page's user (a join with the review) took 0.87 ms of
CPU per request, for a database round trip of 0.07 ms (issue 13: the screening requests, where
every millisecond of CPU is a share of the decisions per second).

`CompiledQuery` compiles its queryset once, with stand-in values where the parameters go, and
afterwards only binds the real values, runs the statement and makes the model instances as the
queryset itself would (`ModelIterable`: the same columns, Django's converters of their values,
select_related's instances). `RawStatement` does for a hand-written statement what `raw()`
does, with the columns' fields and converters worked out once. `tests/core/test_compiled.py`
compares them with the querysets and with `raw()`; the screening tests run every use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet

# ModelIterable's own helper for select_related; django-stubs does not list it.
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.models.sql import Query

M = TypeVar("M", bound=Model)


class CompiledQuery(Generic[M]):
    """`build(**stand_ins)` as a statement compiled once; `fetch(**values)` runs it.

    `stand_ins`: for each parameter a value found nowhere else in the compiled statement's
    parameters (a string or number no caller would pass), so its position can be found.
    """

    def __init__(self, build: Callable[..., QuerySet[M]], **stand_ins: Any):
        self._build = build
        self._stand_ins = stand_ins
        self._compiled: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> tuple:
        queryset = self._build(**self._stand_ins)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        positions = {}
        for name, stand_in in self._stand_ins.items():
            found = [i for i, value in enumerate(params) if value == stand_in]
            if len(found) != 1:
                raise ValueError(f"the stand-in for {name} is found {len(found)} times")
            positions[name] = found[0]
        select, klass_info = compiler.select, compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        fields = [column[0] for column in select[: compiler.col_count]]
        converters = compiler.get_converters(fields)
        # Read-only once made: they only say which columns of a row fill which instance.
        populators = get_related_populators(klass_info, select, using)
        return (
            compiler,
            sql,
            tuple(params),
            positions,
            klass_info["model"],
            (start, end),
            init_list,
            converters,
            populators,
        )

    def fetch(self, *, using: str = "default", **values: Any) -> list[M]:
        """The queryset's instances with these parameter values."""
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(using, self._compile(using))
        compiler, sql, params, positions, model, (start, end), init_list, converters, populators = (
            compiled
        )
        bound = list(params)
        for name, value in values.items():
            bound[positions[name]] = value
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            rows = cursor.fetchall()
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        found = []
        for row in rows:
            obj = model.from_db(using, init_list, row[start:end])
            # As ModelIterable: select_related's instances, filled from the same row.
            for populator in populators:
                populator.populate(row, obj)
            found.append(obj)
        return found


class RawStatement(Generic[M]):
    """`model.objects.raw(sql, params)` for a statement run on every request: the same
    instances (fields from the columns named like them, Django's converters of their values,
    any other column set as an attribute), with what RawQuerySet works out on every call (the
    columns' fields and converters) worked out once per statement and result shape.
    """

    def __init__(self, model: type[M], sql: str):
        self.model = model
        self.sql = sql
        self._plans: dict[tuple, tuple] = {}

    def _plan(self, using: str, columns: tuple[str, ...]) -> tuple:
        connection = connections[using]
        by_column = {
            connection.introspection.identifier_converter(f.column): f
            for f in self.model._meta.concrete_fields
        }
        fields = [by_column.get(column) for column in columns]
        # from_db takes the values in the model's field order, whatever the columns' order.
        position = {f: i for i, f in enumerate(fields) if f is not None}
        init = [(position[f], f.attname) for f in self.model._meta.concrete_fields if f in position]
        extra = [(i, column) for i, column in enumerate(columns) if fields[i] is None]
        compiler = connection.ops.compiler("SQLCompiler")(Query(self.model), connection, using)
        cols = [f.get_col(f.model._meta.db_table) if f else None for f in fields]
        # None for a column of no field, as RawModelIterable passes it: no converter.
        converters = compiler.get_converters(cols)  # type: ignore[arg-type]
        return (
            compiler,
            converters,
            [i for i, _ in init],
            [name for _, name in init],
            extra,
        )

    def fetch(self, params: list | dict, *, using: str = "default") -> list[M]:
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            columns = tuple(
                connection.introspection.identifier_converter(d[0]) for d in cursor.description
            )
            rows = cursor.fetchall()
        key = (using, columns)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans.setdefault(key, self._plan(using, columns))
        compiler, converters, positions, names, extra = plan
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        found = []
        for row in rows:
            obj = self.model.from_db(using, names, [row[i] for i in positions])
            for i, column in extra:
                setattr(obj, column, row[i])
            found.append(obj)
        return found
