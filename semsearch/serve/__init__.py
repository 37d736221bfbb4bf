"""The index as a service: what answers without the terminal.

    http.py       `semsearch serve`: the HTTP JSON API (and the cards the thin client prints, rendered by
                  a function the command hands it: the service never imports the CLI)
    client.py     the thin client: `semsearch ask` against a running server, before typer, rich or numpy
    mcp.py        `semsearch mcp`: the index to coding agents and editors over MCP
    resident.py   the index kept loaded, refreshed when the corpus changes
    payloads.py   the JSON objects every face returns, and the one JSON writer

Nothing here is imported by the engine, and this file imports nothing: the thin client's path stays light.
"""
