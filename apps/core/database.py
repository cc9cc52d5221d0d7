"""Database connections are held only while database work runs, never while a request waits on the network.

Under ASGI each request's sync code runs on a thread of its own, and Django keeps that thread's
connection until request_finished, after the response has been sent. A connection held across an
`await` (a slow body, an open stream, a slow reader) is a pooled connection nobody else can use, so
a few such requests starve the pool. Two tools keep connections short-lived:

- `database_work` for async code (the /mcp door): run sync ORM work in a thread and give the
  connection back as soon as it returns;
- `ConnectionReleaseMiddleware` for Django views: give it back once the response is built,
  before Django's handler sends it;
- `after_commit_released` for a wait inside a sync request (a mail): run it once the transaction
  has committed, with the connection given back first.

And `rows_insert` writes several new rows in one round trip (the tool pipeline's usage row and
audit event).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery
from django.http import HttpRequest, HttpResponse

T = TypeVar("T")


def connections_release() -> None:
    """Close (with a pool: hand back) this thread's connections, except one inside a transaction.

    A connection in an atomic block belongs to code still running on this thread (a test's
    transaction, an outer service); closing it would break that transaction.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


async def database_work(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`await sync_to_async(func)(...)`, with the thread's connections released before it returns."""

    def work() -> T:
        try:
            return func(*args, **kwargs)
        finally:
            connections_release()

    return await sync_to_async(work)()


def after_commit_released(func: Callable[[], object], /) -> None:
    """Run `func`, a wait on the network (an SMTP conversation), once this thread's transaction has
    committed (at once when there is none), with the thread's connections given back first.

    A change that rolls back sends nothing, and the wait holds no connection. `func` may use the
    database again afterwards (to audit what it sent): that takes a connection for that work only.
    An exception from `func` reaches the caller when no transaction was open, else the code that
    committed (Django's on_commit, not robust).
    """

    def run() -> None:
        connections_release()
        func()

    transaction.on_commit(run)


class ConnectionReleaseMiddleware:
    """Outermost Django middleware: release the connection once the response is built, before it is sent.

    Streaming responses keep theirs, since their content may still read the database.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.streaming:
            connections_release()
        return response


def insert_only_save(save: Callable[..., None]) -> Callable[..., None]:
    """Marks a `save()` override whose only logic is refusing an instance that already has a primary
    key. `rows_insert` refuses such instances itself, so it may insert the model without calling it."""
    save.rows_insert_upheld = True  # type: ignore[attr-defined]
    return save


def _insert_refusals(obj: Model) -> list[str]:
    """Why `rows_insert` cannot stand in for `obj.save(force_insert=True)`: it bypasses save() and the
    save signals, so a model that relies on either must be saved the ordinary way."""
    model = type(obj)
    reasons = []
    if not obj._state.adding or obj.pk is not None or model._meta.auto_field is None:
        reasons.append("it is not a new row with its primary key left to the database")
    if model._meta.parents:
        reasons.append("it inherits from a concrete model (saving it writes several tables)")
    for name in ("save", "save_base"):
        method = getattr(model, name)
        if method is not getattr(Model, name) and not getattr(method, "rows_insert_upheld", False):
            reasons.append(f"it overrides {name}()")
    for signal, label in ((pre_save, "pre_save"), (post_save, "post_save")):
        if signal.has_listeners(model):
            reasons.append(f"{label} has receivers")
    return reasons


# (model, database alias) -> Django's compiled INSERT text for the model and a compiler for reading
# the returned columns back. The text is the same for every row whose values are all plain
# parameters (every placeholder `%s`), so compiling it once per model saves the tool pipeline's
# record most of Django's per-statement SQL assembly; the values are still prepared per row exactly
# as SQLInsertCompiler.as_sql prepares them.
_compiled_inserts: dict[tuple[type[Model], str], tuple[str, Any]] = {}


def _has_sql(value: object) -> bool:
    return hasattr(value, "resolve_expression") or hasattr(value, "as_sql")


def _insert_statement(obj: Model, using: str) -> tuple[str, list[Any], Any]:
    """(INSERT ... RETURNING text, its parameters, a compiler for the returned columns) for one new row."""
    obj._prepare_related_fields_for_save(operation_name="save")
    meta = obj._meta.concrete_model._meta
    fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
    compiled = _compiled_inserts.get((meta.model, using))
    if compiled is not None:
        connection = connections[using]
        # SQLInsertCompiler.as_sql's own steps per value: pre_save (auto_now_add), then the value
        # prepared for saving. An expression among them changes the text: compiled afresh below.
        raw = [field.pre_save(obj, True) for field in fields]
        if not any(_has_sql(value) for value in raw):
            values = [field.get_db_prep_save(value, connection) for field, value in zip(fields, raw, strict=True)]
            if not any(_has_sql(value) for value in values):
                return compiled[0], values, compiled[1]
    query = InsertQuery(meta.model)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = meta.db_returning_fields
    [(sql, sql_params)] = compiler.as_sql()
    # Cached only when every placeholder is a plain `%s`: no field places its own, no value is SQL.
    plain = (
        sql_params is not None
        and len(sql_params) == len(fields)
        and sql.count("%s") == len(fields)
        and not any(
            hasattr(field, "get_placeholder") or _has_sql(value)
            for field, value in zip(fields, sql_params, strict=True)
        )
    )
    if plain:
        reader = InsertQuery(meta.model).get_compiler(using=using)
        reader.returning_fields = meta.db_returning_fields
        _compiled_inserts[(meta.model, using)] = (sql, reader)
    return sql, list(sql_params), compiler


def rows_insert(*instances: Model, using: str = "default") -> None:
    """Insert new, unsaved instances (of one model or several) in one statement: one round trip.

    On PostgreSQL each row is Django's own compiled INSERT (the fields `Model.save` would write,
    `pre_save` run, so auto_now_add is set) chained as data-modifying CTEs returning the primary keys:
    `WITH r0 AS (INSERT ... RETURNING id), r1 AS (...) SELECT * FROM r0, r1`. One statement is
    atomic by itself: in autocommit it is its own transaction, inside an atomic block it joins it.
    The rows cannot refer to each other (none sees another's key before the statement runs).
    Each instance gets its primary key and counts as saved, as after save().

    save() and the pre_save/post_save signals are bypassed, so a model that has either (save marked
    `insert_only_save` aside), or an instance that is not new, is refused with TypeError before
    anything is written. Other databases (SQLite, the embedded default) save each instance with
    force_insert in one atomic block.
    """
    refusals = sorted({f"{type(obj).__name__}: {why}" for obj in instances for why in _insert_refusals(obj)})
    if refusals:
        raise TypeError(f"rows_insert cannot stand in for save() here: {'; '.join(refusals)}.")
    if not instances:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        with transaction.atomic(using=using):
            for obj in instances:
                obj.save(force_insert=True, using=using)
        return
    ctes: list[str] = []
    params: list[Any] = []
    compilers = []
    for index, obj in enumerate(instances):
        sql, sql_params, compiler = _insert_statement(obj, using)
        ctes.append(f"r{index} AS ({sql})")
        params.extend(sql_params)
        compilers.append(compiler)
    names = ", ".join(f"r{index}" for index in range(len(instances)))
    with connection.cursor() as cursor:
        # Django's compiled statements, every value a parameter.
        cursor.execute(f"WITH {', '.join(ctes)} SELECT * FROM {names}", params)  # noqa: S608
        row = cursor.fetchone()
    offset = 0
    for obj, compiler in zip(instances, compilers, strict=True):
        fields = compiler.returning_fields
        values = row[offset : offset + len(fields)]
        offset += len(fields)
        cols = [field.get_col(obj._meta.db_table) for field in fields]
        converters = compiler.get_converters(cols)
        if converters:
            [values] = compiler.apply_converters([values], converters)
        for field, value in zip(fields, values, strict=True):
            setattr(obj, field.attname, value)
    for obj in instances:
        obj._state.adding = False
        obj._state.db = using
