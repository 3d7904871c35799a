"""The page in Debian's Chromium (Playwright drives it; never `playwright install`).

One walk through what a creator does: drop a photo and a clip, see the verdicts and the pose drawn on
their frames, move the window on the timeline, fix, download, and a dry-run submit with the cost shown.
A failing step saves a screenshot and names it in the failure. ``PREFLIGHT_SERVE_SCREENSHOT=docs/serve.png``
also saves the page after the dry run (the README's picture).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no {CHROMIUM}: apt-get install chromium (.ci/run does)"),
]


@pytest.fixture
def live_server(pool: Any) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread (jobs on the module's pool)."""
    import uvicorn

    from preflight.serve.app import create_app
    from preflight.serve.config import ServeConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(ServeConfig(port=port, orientation="image"), executor=pool)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 1500})
        yield context.new_page()
        context.close()
        browser.close()


def _drop(page: Any, files: list[tuple[Path, str]]) -> None:
    """Drop files on the drop zone as a user's drag and drop does (a DataTransfer with File objects)."""
    payload = [{"name": p.name, "type": mime, "data": base64.b64encode(p.read_bytes()).decode()} for p, mime in files]
    page.evaluate(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            const zone = document.getElementById("drop");
            for (const type of ["dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }
        }""",
        payload,
    )


def _set_range(page: Any, selector: str, value: float) -> None:
    page.eval_on_selector(selector, "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", value)


def test_drop_check_window_fix_download_dry_run(live_server: str, page: Any,
                                                person_media: tuple[Path, Path]) -> None:  # fmt: skip
    import av

    image, clip = person_media
    shots = Path(tempfile.mkdtemp(prefix="preflight-serve-shots-"))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    step = "open"
    try:
        page.goto(live_server)
        page.wait_for_selector("#model option", state="attached")
        step = "drop"
        _drop(page, [(image, "image/jpeg"), (clip, "video/mp4")])
        assert page.text_content("#image-name").startswith("me.jpg")
        assert page.text_content("#video-name").startswith("dance.mp4")
        step = "check"
        page.click("#check")
        page.wait_for_selector("#progress-box:not([hidden])", timeout=5000)  # progress while it runs
        page.wait_for_selector("#card-video .verdict.fixable", timeout=90000)
        assert page.text_content("#card-image .verdict").startswith("pass")
        assert "duration.too_long" in page.text_content("#card-video .findings")
        for picture in ("#card-image .picture", "#card-video .picture"):  # the pose drawn on their frames
            page.wait_for_function(f"document.querySelector('{picture}').naturalWidth > 0", timeout=10000)
        step = "window"
        assert page.is_visible("#timeline")
        suggested = page.text_content("#win-text")
        _set_range(page, "#win-start", 1.5)  # the window keeps its 10 s: the end follows
        assert page.text_content("#win-text") == "1.5–11.5 s (10.0 s)" != suggested
        _set_range(page, "#win-end", 7.5)
        assert page.text_content("#win-text") == "1.5–7.5 s (6.0 s)"
        step = "fix"
        page.click("#fix")
        link = page.wait_for_selector("#outputs a.download[href$='video.mp4']", timeout=90000)
        step = "download"
        with page.expect_download() as got:
            link.click()
        saved = shots / got.value.suggested_filename
        got.value.save_as(saved)
        assert saved.name == "dance-ready.mp4"
        with av.open(str(saved)) as fixed:
            assert float(fixed.duration / 1e6) == pytest.approx(6.0, abs=0.15)
        step = "dry run"
        page.select_option("#submit-provider", "fal")
        page.click("#dry-run")
        page.wait_for_selector("#cost-box:not([hidden])", timeout=90000)
        assert page.text_content("#cost").startswith("cost: about $0.42 for 6.0 s at $0.07/s")
        assert "POST" in page.text_content("#requests")
        assert page.is_disabled("#submit")  # no key on this server: a dry run only
        assert not errors, errors
        wanted = os.environ.get("PREFLIGHT_SERVE_SCREENSHOT")
        if wanted:
            page.eval_on_selector("#requests", "el => el.closest('details').open = false")
            page.screenshot(path=wanted, full_page=True)
    except BaseException as exc:
        shot = shots / f"failed-at-{step.replace(' ', '-')}.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"the page failed at step {step!r}: {exc} (screenshot: {shot})") from exc
    shutil.rmtree(shots)  # kept only when the walk failed
