"""`litkb mcp`: the knowledge base as an MCP server for AI assistants (the official `mcp` SDK). `tools.py`
holds what each tool does (plain functions over a `KnowledgeBase`, returning the `--json` objects, paged
and capped); `server.py` registers them, with their descriptions, and runs the server."""
