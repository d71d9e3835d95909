"""TRANSITIONAL: `ParsedRequest` for MCP until it stops importing the API; the module is
`reelforge.api.dialects.avs.uploads`."""

from reelforge.api.dialects.avs.uploads import ParsedRequest

__all__ = ["ParsedRequest"]
