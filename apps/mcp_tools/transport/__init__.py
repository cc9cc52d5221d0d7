"""The MCP transports: Streamable HTTP at /mcp (http.py, auth.py, rebinding.py) and stdio (stdio.py),
both serving the one SDK server built in server.py."""
