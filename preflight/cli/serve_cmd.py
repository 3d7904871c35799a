"""preflight serve: the page and the HTTP API (the optional extra ``preflight-motion[serve]``)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .options import orientation_option, profile_option


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback needs --token.")  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--token", default=None, metavar="TOKEN",
              help="Every call must carry it (Bearer). Required beyond loopback. Env PREFLIGHT_SERVE_TOKEN "
                   "(better than the command line, which other users can see).")  # fmt: skip
@profile_option
@orientation_option
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Pool workers for checks and fixes (default: one per core).")  # fmt: skip
@click.option("--open/--no-open", "open_browser", default=False, help="Open the page in a browser.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another Host header to answer on loopback (a name in /etc/hosts); repeatable.")  # fmt: skip
@click.option("--max-age", type=click.FloatRange(min=60), default=3600, show_default=True,
              help="Seconds a finished job's uploads and outputs are kept.")  # fmt: skip
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Job ledger for submits (else env PREFLIGHT_LEDGER, else the user data dir).")  # fmt: skip
@click.option("--upload", "upload_dest", metavar="DEST", envvar="PREFLIGHT_UPLOAD", default=None,
              help="Submits put local clips here and send their URLs (as submit --upload): s3://, gs://, or a "
                   "web folder with --upload-base-url.")  # fmt: skip
@click.option("--upload-base-url", metavar="URL", envvar="PREFLIGHT_UPLOAD_BASE_URL", default=None,
              help="The public URL of --upload's DEST (else s3:// and gs:// URLs are signed).")  # fmt: skip
@click.option("--upload-option", "upload_options", metavar="NAME=VALUE", multiple=True,
              help="An option of --upload's store (fsspec), e.g. endpoint_url=...")  # fmt: skip
def command(host: str, port: int, token: str | None, profile: str | None, orientation: str, jobs: int | None,
            open_browser: bool, allow_hosts: tuple[str, ...], max_age: float, ledger_path: Path | None,
            upload_dest: str | None, upload_base_url: str | None, upload_options: tuple[str, ...]) -> None:
    """Serve the page and the HTTP API on http://127.0.0.1:8765.

    Drop an image and a clip on the page: verdicts, the pose drawn on your frames, a timeline to pick
    the part of the clip to keep, fix, download, and submit with the cost shown first. The same
    operations as JSON under /v1 (OpenAPI at /v1/openapi.json).

    \b
    Examples:
      preflight serve
      curl -F image=@me.jpg -F video=@dance.mov 'http://127.0.0.1:8765/v1/check?model=kling-v3&provider=fal'
      curl -F video=@dance.mov -F start=4.5 http://127.0.0.1:8765/v1/fix -o ready.mp4
      PREFLIGHT_SERVE_TOKEN=$(openssl rand -hex 24) preflight serve --host 0.0.0.0
    """
    from ..serve.server import require_web_stack

    require_web_stack()  # before anything else: the one line says how to install it
    from ..api import resolve_profile
    from ..profiles import default_profile_name
    from ..serve.config import ServeConfig
    from ..serve.server import serve
    from .submit_cmd import upload_target

    # The default (PREFLIGHT_PROFILE or PREFLIGHT_MODEL) named now: the pool's workers resolve this reference.
    profile = profile if profile is not None else default_profile_name()
    resolve_profile(profile)  # an unknown profile is a usage error now, not on the first request
    config = ServeConfig(host=host, port=port, token=token or os.environ.get("PREFLIGHT_SERVE_TOKEN") or None,
                         profile=profile, orientation=orientation, jobs=jobs, max_age=max_age,
                         ledger=str(ledger_path) if ledger_path else None, extra_hosts=allow_hosts,
                         upload=upload_target(upload_dest, upload_base_url, upload_options))  # fmt: skip
    serve(config, open_browser=open_browser)
