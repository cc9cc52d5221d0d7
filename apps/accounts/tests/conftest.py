"""The live ASGI server of the transport tests, for the OAuth client tests that sign in against it."""

from apps.mcp_tools.tests.conftest import asgi_server, close_sync_thread_connections  # noqa: F401
