"""The MCP server for agents: reelforge's tools over stdio (`reelforge mcp`) and streamable HTTP (`/mcp`)."""
