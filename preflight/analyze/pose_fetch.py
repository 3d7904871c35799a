"""Fetching for :mod:`.posemodel`: stream a URL into a temp file, pick a wheel from PyPI's JSON API.

Kept apart from provisioning's decisions (what to fetch, when, how to verify it) so each reads alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urljoin, urlsplit

__all__ = ["download", "pick_wheel"]

log = logging.getLogger("preflight")


def download(client, url: str, folder: Path, *, what: str, size_hint: int | None = None):
    """Stream ``url`` into a temp file in ``folder``; return (path, sha256). Removed on failure."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".download-", suffix=".part")
    tmp = Path(name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, client.stream("GET", url) as response:
            response.raise_for_status()
            size = size_hint or int(response.headers.get("content-length") or 0)
            host = urlsplit(url).netloc
            log.warning("fetching %s from %s (%.1f MB, once)", what, host, size / 1e6)
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest()


def pick_wheel(client, base: str, package: str, version: str) -> dict:
    """The smallest wheel of ``package`` ``version``, from PyPI's JSON API (url made absolute)."""
    import httpx

    version_url = f"{base}/pypi/{package}/{version}/json"
    response = client.get(version_url)
    if response.status_code == 404:
        # Some mirrors serve only the project document; its "releases" has the same file list.
        project_url = f"{base}/pypi/{package}/json"
        response = client.get(project_url)
        response.raise_for_status()
        files, doc_url = response.json().get("releases", {}).get(version, []), project_url
    else:
        response.raise_for_status()
        files, doc_url = response.json().get("urls", []), version_url
    wheels = [f for f in files if f.get("filename", "").endswith(".whl")]
    if not wheels:
        raise httpx.HTTPError(f"no wheel of {package} {version} on {base}")
    wheel = dict(min(wheels, key=lambda f: (f.get("size") or 1 << 62, f["filename"])))
    wheel["url"] = urljoin(doc_url, wheel["url"])
    return wheel
