"""Run the app under uvicorn: print the URL, sweep old jobs, remove the private folder at exit."""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import webbrowser

from .config import ServeConfig, is_loopback

__all__ = ["WEB_STACK", "require_web_stack", "serve", "url_of"]

log = logging.getLogger("preflight")

WEB_STACK = ("starlette", "uvicorn", "python_multipart")
INSTALL = "pip install 'preflight-motion[serve]'"


def require_web_stack() -> None:
    """Raise ``serve.missing`` (a one-line usage error naming the pip command) without the extra."""
    import importlib.util

    from ..errors import UsageError

    missing = [name for name in WEB_STACK if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"preflight serve needs {', '.join(missing)}: {INSTALL}", "serve.missing")


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve(config: ServeConfig, *, open_browser: bool = False) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn re-raises the signal afterwards, so the CLI exits 130/143)."""
    import uvicorn

    from .app import create_app

    config.validate()
    app = create_app(config)
    store = app.app.state.server.store  # type: ignore[attr-defined]
    atexit.register(store.close)  # the lifespan removes it too; this covers an exit that skips it
    url = url_of(config.host, config.port)
    reach = "this machine only" if is_loopback(config.host) else "other machines too: every call needs the token"
    print(f"preflight serve: {url}  ({reach}; Ctrl-C stops)", file=sys.stderr, flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    server = uvicorn.Server(uvicorn.Config(
        app, host=config.host, port=config.port, log_level="warning", lifespan="on", server_header=False,
        proxy_headers=True, timeout_graceful_shutdown=5))  # fmt: skip
    try:
        server.run()
    finally:
        store.close()


