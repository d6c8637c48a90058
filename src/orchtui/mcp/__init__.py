"""orchtui over the Model Context Protocol: `orchtui mcp` (see docs/mcp.md)."""
