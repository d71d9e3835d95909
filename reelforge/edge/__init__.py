"""What every surface (the HTTP dialects and MCP) shares: the one create path, upload sessions, download
links and idempotency digests. Above the task core and the runtime, below `api` and `mcp`."""
