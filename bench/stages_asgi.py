"""The gateway with tools/call cut short after one step of a cached call: bench_http.py's --stages
targets, never deployed.

Only for measuring, in the same run, what each step of a call costs a loaded worker; the product
has no such switch. BENCH_STAGE chooses how far a call goes before it is answered with a constant:

  stack    Host/Origin guard, bearer authentication (principal cache), the SDK's Streamable HTTP and
           JSON-RPC handling: everything a call crosses on the event loop, answered there
  hop      + the request's hop to its thread (`database_work`), doing nothing there
  limits   + the rate limits' round trip (apps.quotas, as the pipeline counts a tool call)
  record   + the usage row and the audit event (the pipeline's `_record`, one INSERT statement)
  async    what `record` does with no hop: on the event loop, the limits' round trip over
           redis.asyncio (the same Lua script, keys and arguments) and the same INSERT statement
           through psycopg's async pool (the rows built by `_record`), awaited before answering;
           the ceiling of a hot path moved to asyncio, not a pipeline (never deployed)

Each stage includes the ones before it, so the differences between their calls/s are what each step
adds per call. The real cached call (mcp-cached) further checks the policy and the arguments, sets
the request context and reads the result cache.
"""

import importlib
import os
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# config.asgi first: it sets Django up before the app modules below can be imported.
application = importlib.import_module("config.asgi").application

STAGES = ("stack", "hop", "limits", "record", "async")
STAGE = os.environ.get("BENCH_STAGE", "")
if STAGE not in STAGES:
    raise SystemExit(f"BENCH_STAGE must be one of {', '.join(STAGES)}, not {STAGE!r}")

_server = importlib.import_module("apps.mcp_tools.transport.server")
_invoke = importlib.import_module("apps.mcp_tools.pipeline.invoke")
_quotas = importlib.import_module("apps.quotas.services")


def _tool_invoke(*, principal, tool_name, arguments, transport):
    invocation_id = uuid.uuid4().hex
    outcome = _invoke.InvocationResult(
        tool_name=tool_name,
        success=True,
        result={"ok": True},
        cached=True,
        error=None,
        duration_ms=0.0,
        invocation_id=invocation_id,
    )
    if STAGE in {"limits", "record"}:
        user = principal.user
        outcome.rate_limits = _quotas.quota_tool_call_check(
            caller=principal.operator or user, user_id=user.pk, tool_name=tool_name, policy_rate=None
        )
    if STAGE == "record":
        _invoke._record(
            principal=principal, tool_name=tool_name, transport=transport, arguments=arguments, outcome=outcome
        )
    return outcome


async def _on_the_loop(func, /, *args, **kwargs):
    return func(*args, **kwargs)


_async: dict = {}


async def _async_resources():
    """redis.asyncio's copy of the limits' script and a psycopg async pool, made on the server's loop."""
    if not _async:
        import psycopg_pool
        import redis.asyncio
        from django.db import connection

        limiter = importlib.import_module("apps.core.limiter")
        client = redis.asyncio.Redis.from_url(limiter._storage_url(), socket_timeout=2)
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        pool = psycopg_pool.AsyncConnectionPool(
            kwargs={**params, "autocommit": True}, min_size=2, max_size=4, open=False
        )
        await pool.open()
        _async.update(script=client.register_script(limiter.LIMITS_HIT), pool=pool)
    return _async


async def _tool_invoke_async(*, principal, tool_name, arguments, transport):
    from asgiref.sync import sync_to_async
    from django.core.exceptions import SynchronousOnlyOperation

    limiter = importlib.import_module("apps.core.limiter")
    database = importlib.import_module("apps.core.database")
    resources = await _async_resources()
    user = principal.user

    # The limits as quota_tool_call_check makes them. The caller's rate is cached per process for a
    # few seconds; when it must be read from the database, that goes to a thread as ORM work must.
    def limits_made():
        return [
            _quotas.user_limit(principal.operator or user),
            _quotas.tool_limit(user_id=user.pk, tool_name=tool_name, policy_rate=None),
        ]

    try:
        limits = limits_made()
    except SynchronousOnlyOperation:
        limits = await sync_to_async(limits_made)()
    keys = [limiter._storage_key(limit) for limit in limits]
    args = [len(limits), 0, 0, 0]
    for limit in limits:
        args += [limit.interval_us, limit.interval_us * (limit.burst - 1)]
    rows = await resources["script"](keys=keys, args=args)
    outcome = _invoke.InvocationResult(
        tool_name=tool_name,
        success=True,
        result={"ok": True},
        cached=True,
        error=None,
        duration_ms=0.0,
        invocation_id=uuid.uuid4().hex,
        rate_limits=limiter._decision(limits, rows[: len(limits)]),
    )
    # The rows exactly as the pipeline builds them (masked, MACed), caught before rows_insert; its
    # checks and reading the keys back are left out, which if anything favours this stage.
    built = []
    original = _invoke.rows_insert
    _invoke.rows_insert = lambda *instances: built.extend(instances)
    try:
        _invoke._record(
            principal=principal, tool_name=tool_name, transport=transport, arguments=arguments, outcome=outcome
        )
    finally:
        _invoke.rows_insert = original
    if not database._compiled_inserts:
        # The first compile may ask the server's version: once, in a thread.
        await sync_to_async(lambda: [database._insert_statement(obj, "default") for obj in built])()
    statements = [database._insert_statement(obj, "default") for obj in built]
    ctes = ", ".join(f"r{index} AS ({sql})" for index, (sql, _params, _compiler) in enumerate(statements))
    names = ", ".join(f"r{index}" for index in range(len(statements)))
    params = [value for _sql, sql_params, _compiler in statements for value in sql_params]
    async with resources["pool"].connection() as conn:
        await conn.execute(f"WITH {ctes} SELECT * FROM {names}", params)  # noqa: S608
    return outcome


async def _awaited(func, /, *args, **kwargs):
    return await _tool_invoke_async(**kwargs)


# The MCP door looks both names up when a call arrives, so replacing them here reroutes every call.
_server.tool_invoke = _tool_invoke
if STAGE == "stack":
    _server.database_work = _on_the_loop
elif STAGE == "async":
    _server.database_work = _awaited
