"""``preflight serve``: the page and the HTTP API over the same operations as the CLI.

    config.py    ServeConfig, the bind rules (loopback, or a token), upload caps from the profile
    uploads.py   multipart uploads streamed to a private folder, capped and sniffed while they arrive
    work.py      what runs in the batch pool's worker processes: check, fix, prepare, preview (picklable, plain data)
    wording.py   findings, fix actions and errors in the page's words (no flags, no server paths)
    views.py     the page's view of each result (``result["page"]``): what to show beside each file, and why
    jobs.py      the server's jobs: one private folder each, state and progress, files by server-side name
    submitting.py  cost line, dry run and submit of a prepared pair (the submit service and its ledger)
    security.py  token, CSRF, Host/Origin checks and the response headers (CSP), as one ASGI middleware
    openapi.py   the hand-written OpenAPI document served at /v1/openapi.json
    app.py       the Starlette routes
    server.py    uvicorn, the cleanup schedule, and what happens at exit

Only ``app.py``, ``security.py``, ``uploads.py`` and ``server.py`` import the web stack (the optional
extra ``preflight-motion[serve]``); nothing else in preflight imports this package.
"""

from __future__ import annotations

__all__: list[str] = []
