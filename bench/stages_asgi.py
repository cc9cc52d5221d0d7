"""The gateway with tools/call cut short after one step of a cached call: bench_http.py's --stages
targets, never deployed.

Only for measuring, in the same run, what each step of a call costs a loaded worker; the product
has no such switch. BENCH_STAGE chooses how far a call goes before it is answered with a constant:

  stack    Host/Origin guard, bearer authentication (principal cache), the SDK's Streamable HTTP and
           JSON-RPC handling: everything a call crosses on the event loop, answered there
  hop      + the request's hop to its thread (`database_work`), doing nothing there
  limits   + the rate limits' round trip (apps.quotas, as the pipeline counts a tool call)
  record   + the usage row and the audit event (the pipeline's `_record`, one INSERT statement)

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

STAGES = ("stack", "hop", "limits", "record")
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


# The MCP door looks both names up when a call arrives, so replacing them here reroutes every call.
_server.tool_invoke = _tool_invoke
if STAGE == "stack":
    _server.database_work = _on_the_loop
