"""Queries built with the ORM once and run many times: a hot path's SQL without its compilation.

Building and compiling a queryset costs Django a few hundred microseconds each time, more than
SQLite or PostgreSQL take to answer a query that reads a handful of rows by primary key. On a
path taken for every chat message that is most of the cost. A :class:`CompiledQuery` builds its
queryset once per database connection alias, with stand-in values for its parameters, keeps the
SQL, and afterwards runs that SQL with the real values.

The queryset is still written with the ORM (table names, joins and quoting stay Django's, on
SQLite and PostgreSQL alike). The rows come back as the database returns them, without Django's
converters, so select columns whose raw values are plain: integers, strings, booleans (SQLite
answers 0/1), NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model, QuerySet

_INT_MARKER = -7_318_000_001  # far below any primary key or count a query compares with


class CompiledQuery:
    """``build(p)`` returns the queryset; ``p.<name>`` stands for each parameter named in ``ints``
    or ``strings`` (use each where the real value goes). :meth:`fetchone` runs it.

    A parameter must reach the SQL as given: a lookup that rewrites its value (``startswith``
    makes ``name%``) cannot take one, and compiling says which parameter went missing."""

    def __init__(
        self,
        build: Callable[[SimpleNamespace], QuerySet[Any]],
        *,
        ints: Sequence[str] = (),
        strings: Sequence[str] = (),
    ) -> None:
        self._build = build
        markers: dict[str, Any] = {name: _INT_MARKER - number for number, name in enumerate(ints)}
        markers |= {name: f"\x1fcompiled:{name}\x1f" for name in strings}
        self._markers = markers
        self._compiled: dict[str, tuple[str, list[tuple[str | None, Any]]]] = {}

    def sql(self, using: str = DEFAULT_DB_ALIAS) -> tuple[str, list[tuple[str | None, Any]]]:
        """The SQL for ``using`` and, for each placeholder in it, the parameter name it takes
        (or None and the constant the queryset itself put there)."""
        compiled = self._compiled.get(using)
        if compiled is None:
            queryset = self._build(SimpleNamespace(**self._markers))
            text, params = queryset.query.get_compiler(using=using).as_sql()
            names = {value: name for name, value in self._markers.items()}
            slots: list[tuple[str | None, Any]] = []
            for param in params:
                name = names.get(param) if isinstance(param, int | str) and not isinstance(param, bool) else None
                slots.append((name, None if name else param))
            unused = set(self._markers) - {name for name, _constant in slots}
            if unused:
                raise ImproperlyConfigured(f"CompiledQuery parameters not used by the query: {sorted(unused)}")
            compiled = self._compiled[using] = (text, slots)
        return compiled

    def fetchone(self, using: str = DEFAULT_DB_ALIAS, **values: Any) -> tuple[Any, ...] | None:
        if values.keys() != self._markers.keys():
            raise TypeError(f"CompiledQuery needs exactly {sorted(self._markers)}, got {sorted(values)}")
        text, slots = self.sql(using)
        params = [values[name] if name is not None else constant for name, constant in slots]
        with connections[using].cursor() as cursor:
            cursor.execute(text, params)
            return cursor.fetchone()  # type: ignore[no-any-return]


_INSERTS: dict[tuple[Any, ...], tuple[str, list[Field[Any, Any]], list[Field[Any, Any]]]] = {}


def insert(
    instance: Model,
    using: str = DEFAULT_DB_ALIAS,
    *,
    computed: Mapping[str, str] | None = None,
    with_sql: str = "",
    with_params: Sequence[Any] = (),
) -> None:
    """INSERT ``instance`` as a new row and set its primary key.

    What ``instance.save()`` does for a new row, with the statement built once instead of on every
    call. Every column is written, each value through its field's own conversion for the database
    (JSON, datetimes, foreign keys); but ``pre_save`` hooks (``auto_now_add``) and the save signals
    do not run: set every value yourself, and use this only for a model nothing listens to.

    ``computed`` maps fields to SQL computing their value in the statement (read back into the
    instance); ``with_sql`` (and its ``with_params``) goes before the INSERT, as a WITH clause that
    SQL can read (PostgreSQL lets that clause change rows too).
    """
    model = type(instance)
    connection = connections[using]
    computed = dict(computed or {})
    key = (using, model, tuple(computed.items()), with_sql)
    prepared = _INSERTS.get(key)
    if prepared is None:
        quote = connection.ops.quote_name
        columns = [field for field in model._meta.concrete_fields if field is not model._meta.auto_field]
        given = [field for field in columns if field.name not in computed]
        read_back = [field for field in columns if field.name in computed]
        # Names from the model's own metadata, quoted by the backend; the values are parameters.
        text = "{}INSERT INTO {} ({}) VALUES ({}) RETURNING {}".format(  # noqa: S608
            f"{with_sql} " if with_sql else "",
            quote(model._meta.db_table),
            ", ".join(quote(field.column) for field in columns),
            ", ".join(computed.get(field.name, "%s") for field in columns),
            ", ".join(quote(field.column) for field in [model._meta.pk, *read_back]),
        )
        prepared = _INSERTS[key] = (text, given, read_back)
    text, given, read_back = prepared
    params = [*with_params, *(field.get_db_prep_save(getattr(instance, field.attname), connection) for field in given)]
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        pk, *values = cursor.fetchone()
    instance.pk = pk
    for field, value in zip(read_back, values, strict=True):
        setattr(instance, field.attname, value)
    instance._state.adding = False
    instance._state.db = using
