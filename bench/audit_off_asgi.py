"""The gateway with audit writes switched off: bench/bench_audit.py's "audit off" target, never deployed.

Only for measuring what the audit trail costs in the same run; the product has no such switch.
"""

import importlib
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# config.asgi first: it sets Django up before the app modules below can be imported.
application = importlib.import_module("config.asgi").application


def _not_recorded(**kwargs):
    return None


for _module in ("apps.mcp_tools.pipeline.invoke", "apps.todos.services"):
    importlib.import_module(_module).audit_event_record = _not_recorded
