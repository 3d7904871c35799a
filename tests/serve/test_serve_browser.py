"""The page in Debian's Chromium (Playwright drives it; never `playwright install`), as a creator uses it.

One flow per test: the main walk (drop, check, window, fix, download, dry run), a failing output's reason
beside it, the default provider finishing with a link, a model change re-checking without an upload, an HEVC
clip's preview playing, and jobs that survive a double click, a reload and a cancel. After each step every
text the page shows is checked for server paths and command-line flags; the phone size (390 px) must not
scroll sideways. A failing step saves a screenshot and names it in the failure.

Screenshots of each flow go to a temporary folder, or to ``PREFLIGHT_SCREENSHOTS`` (``docs/img``: the pictures
of docs/creators.md are made so, as small palette PNGs). The flows take a browser and real jobs each: they
are ``slow``; the smoke test (keyboard, phone size, a quick check) stays in the default run.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
FLAG = re.compile(r"(?<![\w-])--[a-z]")
SERVER_PATH = re.compile(r"preflight-serve-|\$TMPDIR|(?<![\w:/])/(?:tmp|home|root|srv|var)/|\bnamed/")
JARGON = re.compile(r"\byuv4\d\dp|\borientation=")

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no {CHROMIUM}: apt-get install chromium (.ci/run does)"),
]


# ---- the server and the browser -------------------------------------------------------------------------
@pytest.fixture
def serve(pool: Any) -> Iterator[Callable[..., str]]:
    """Start the app under uvicorn on a free loopback port, in a thread (jobs on the module's pool)."""
    import uvicorn

    from preflight.serve.app import create_app
    from preflight.serve.config import ServeConfig

    started: list[tuple[Any, threading.Thread]] = []

    def start(**settings: Any) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = create_app(ServeConfig(port=port, **settings), executor=pool)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFLIGHT_LEDGER", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("PREFLIGHT_CONFIG", str(tmp_path / "no-config.toml"))
    for key in ("KLINGAI_ACCESS_KEY", "KLINGAI_SECRET_KEY", "FAL_KEY", "KIE_API_KEY", "NOVITA_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class Walk:
    """One page in a browser context, with the checks every step makes and a screenshot on failure."""

    def __init__(self, browser: Any, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(accept_downloads=True, viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.step = "open"
        self.cancelled = False
        self.failed = False
        """After a Cancel, a poll already on its way may find the job gone (404): the page says "cancelled"."""
        self.folder = Path(tempfile.mkdtemp(prefix="preflight-page-shots-"))

    def plain_everywhere(self) -> None:
        """Every text the page shows (and says to assistive technology): no server path, no flag, no jargon."""
        texts = self.page.evaluate("""() => [document.body.innerText,
            ...[...document.querySelectorAll('[aria-label],[alt],[placeholder],[title]')].flatMap(
                (e) => ['aria-label', 'alt', 'placeholder', 'title'].map((a) => e.getAttribute(a) || ''))]""")
        for text in texts:
            for pattern in (FLAG, SERVER_PATH, JARGON):
                found = pattern.search(text)
                context = text[max(0, found.start() - 80) : found.end() + 80] if found else ""
                assert not found, f"{pattern.pattern!r} on the page: ...{context}..."

    def no_sideways_scroll(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], f"the page is {width} px wide"

    def shot(self, name: str, selector: str | None = None, full_page: bool = False, scale: float = 1.0) -> Path:
        """A screenshot of the flow (an element, the viewport or the whole page) as a small palette PNG,
        ``scale`` times its size."""
        from PIL import Image

        wanted = os.environ.get("PREFLIGHT_SCREENSHOTS")
        target = (Path(wanted) if wanted else self.folder) / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if selector:
            self.page.locator(selector).screenshot(path=str(target))
        else:
            self.page.screenshot(path=str(target), full_page=full_page)
        with Image.open(target) as im:
            rgb = im.convert("RGB")
        if scale != 1.0:
            rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS)
        rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
        return target

    @contextlib.contextmanager
    def doing(self, step: str) -> Iterator[None]:
        self.step = step
        try:
            yield
        except BaseException as exc:
            self.failed = True
            shot = self.folder / f"failed-at-{step.replace(' ', '-')}.png"
            with contextlib.suppress(Exception):
                self.page.screenshot(path=str(shot), full_page=True)
            raise AssertionError(f"the page failed at step {step!r}: {exc} (screenshot: {shot})") from exc

    def close(self) -> None:
        self.context.close()
        if not self.failed:
            shutil.rmtree(self.folder, ignore_errors=True)  # kept only when a step failed: its screenshot
        errors = [e for e in self.errors if not (self.cancelled and e.endswith("status of 404 (Not Found)"))]
        assert not errors, errors


@pytest.fixture
def walk(browser: Any) -> Iterator[Callable[..., Walk]]:
    walks: list[Walk] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Walk:
        walks.append(Walk(browser, viewport))
        return walks[-1]

    yield make
    for w in walks:
        w.close()


def drop(page: Any, files: list[tuple[Path, str]]) -> None:
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


def set_range(page: Any, selector: str, value: float) -> None:
    page.eval_on_selector(selector, "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", value)


def open_page(w: Walk, url: str) -> None:
    w.page.goto(url)
    w.page.wait_for_selector("#model option", state="attached")


def check_done(page: Any, timeout: float = 90000) -> None:
    page.wait_for_function("() => document.querySelector('#check-status .says').textContent.startsWith('done')",
                           timeout=timeout)  # fmt: skip


def checked_against(page: Any, what: str) -> None:
    page.wait_for_function("(w) => document.getElementById('against').textContent.startsWith('checked against ' + w)",
                           arg=what, timeout=60000)  # fmt: skip


def server_jobs(page: Any, kind: str) -> list[dict[str, Any]]:
    return [j for j in page.evaluate("fetch('/v1/jobs').then((r) => r.json())")["jobs"] if j["kind"] == kind]


def near(page: Any, a: str, b: str) -> float:
    """Vertical distance (px) between two elements: what a status or an error is beside."""
    return page.evaluate(
        "([a, b]) => Math.abs(document.querySelector(a).getBoundingClientRect().top"
        " - document.querySelector(b).getBoundingClientRect().top)", [a, b])  # fmt: skip


def in_view(page: Any, selector: str) -> bool:
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.bottom > 0 && r.top < window.innerHeight; }", selector)  # fmt: skip


# ---- the default run: a quick look ------------------------------------------------------------------------
def test_smoke_keyboard_phone_size_and_plain_words(serve: Callable[..., str], walk: Callable[..., Walk],
                                                   person_media: tuple[Path, Path]) -> None:  # fmt: skip
    """At phone size, from the keyboard alone: the drop zone's button picks files, Check runs with its progress
    beside it and announced, the verdict shows in words; labels are unique; nothing scrolls sideways."""
    image, _ = person_media
    w = walk(PHONE)
    page = w.page
    with w.doing("open"):
        open_page(w, serve())
        w.no_sideways_scroll()
        labels = page.evaluate("""() => [...document.querySelectorAll('select, input:not([hidden]), textarea')]
            .map((e) => (e.labels[0] || {}).textContent || e.getAttribute('aria-label'))
            .map((t) => (t || '').trim().split('\\n')[0].trim())""")
        assert all(labels) and len(labels) == len(set(labels)), labels
        assert {"frame one person", "steady a shaky camera"} <= {t.split(" off")[0].strip() for t in labels}, labels
        modes = page.eval_on_selector_all("#reframe option", "os => os.map((o) => o.value)")
        assert modes == ["none", "fixed", "follow"]  # from /v1/config: every mode fix takes
        assert page.get_attribute("#timeline", "role") == "img"
    with w.doing("one provider choice"):
        page.select_option("#model", "runway-act-two")  # one provider serves it, and it takes no orientation
        assert page.eval_on_selector_all("#provider option", "os => os.map((o) => o.value)") == ["runway"]
        assert page.is_disabled("#orientation") and "(no orientation)" in page.text_content("#against")
        assert "To runway, model runway-act-two" in page.text_content("#submit-to")
        page.select_option("#model", "kling-v2.6")
        assert page.input_value("#provider") == "kling" and not page.is_disabled("#orientation")
    with w.doing("keyboard"):
        # Playwright turns the browser's file-chooser interception on when a listener first asks for it: with none
        # before the Enter below, 2 runs in 5 (on main too) waited 30 s for a chooser that never came; with this
        # listener keeping interception on from here, 8 of 8 passed.
        page.on("filechooser", lambda chooser: None)
        page.keyboard.press("Tab")  # the first stop is the model select; walk on to the drop zone's button
        for _ in range(8):
            if page.evaluate("document.activeElement.id") == "pick":
                break
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "pick"
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files(str(image))
        assert page.text_content("#image-name").startswith("me.jpg")
        page.uncheck("#content")  # limits only: quick
        page.focus("#check")
        page.keyboard.press("Enter")
        assert page.is_disabled("#check")  # while its job runs
        assert page.get_attribute("#check-status .says", "role") == "status"
        check_done(page)
        assert page.text_content("#card-image .verdict") == "passes"
        assert "checked against kling-v2.6 at kling" in page.text_content("#against")
        w.plain_everywhere()
        w.no_sideways_scroll()
        w.shot("phone-check")


# ---- the flows (slow) ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_main_walk(serve: Callable[..., str], walk: Callable[..., Walk], person_media: tuple[Path, Path],
                   ledger: None) -> None:  # fmt: skip
    import av

    image, clip = person_media
    w = walk()
    page = w.page
    with w.doing("drop and check"):
        open_page(w, serve(orientation="image"))
        page.select_option("#provider", "fal")  # nothing checked yet: no re-check, the header just changes
        drop(page, [(image, "image/jpeg"), (clip, "video/mp4")])
        assert page.text_content("#image-name").startswith("me.jpg")
        page.click("#check")
        page.wait_for_selector("#check-status .line:not([hidden])", timeout=5000)
        assert near(page, "#check-status", "#check") < 40 and in_view(page, "#check-status")
        check_done(page)
        assert page.text_content("#card-image .verdict") == "passes"
        assert page.text_content("#card-video .verdict") == "fixable"
        findings = page.text_content("#card-video .findings")
        assert "move the window on the timeline" in findings and "duration.too_long" in findings
        for picture in ("#card-video .picture", "#pair-photo img", "#pair-frame img"):  # the pose on their frames
            page.wait_for_function(f"() => document.querySelector('{picture}').naturalWidth > 0", timeout=15000)
        w.plain_everywhere()
        w.shot("check", "#results > .cards")
        w.shot("pair", "#pair")
    with w.doing("window"):
        suggested = page.text_content("#win-text")
        set_range(page, "#win-start", 1.5)  # the window keeps its 10 s: the end follows
        assert page.text_content("#win-text") == "1.5–11.5 s (10.0 s)" != suggested
        set_range(page, "#win-end", 7.5)
        assert page.text_content("#win-text") == "1.5–7.5 s (6.0 s)"
        assert "the window is 1.5–7.5 s" in page.get_attribute("#timeline", "aria-label")
        page.wait_for_function("() => document.getElementById('preview').readyState >= 2", timeout=20000)
        w.shot("timeline", "#timeline-box")
    with w.doing("fix"):
        page.click("#fix")
        assert page.is_disabled("#fix")
        assert near(page, "#fix-status", "#fix") < 40 and in_view(page, "#fix-status")  # beside Fix, on screen
        link = page.wait_for_selector("#outputs a.download[href$='video.mp4']", timeout=90000)
        done = page.text_content("#outputs")
        assert "trimmed to 1.5–7.5 s" in done and "What Fix did" in done
        with page.expect_download() as got:
            link.click()
        saved = w.folder / got.value.suggested_filename
        got.value.save_as(saved)
        assert saved.name == "dance-ready.mp4"
        with av.open(str(saved)) as fixed:
            assert float(fixed.duration / 1e6) == pytest.approx(6.0, abs=0.15)
        page.wait_for_function("() => document.querySelector('#outputs video') && "
                               "document.querySelector('#outputs video').readyState >= 2", timeout=20000)  # fmt: skip
        w.plain_everywhere()
        w.shot("fix", "#fix-box")
    with w.doing("dry run"):
        page.click("#dry-run")
        page.wait_for_selector("#cost-box:not([hidden])", timeout=90000)
        assert page.text_content("#cost").startswith("cost: about $0.42 for 6.0 s at $0.07/s")
        assert "uploaded to fal's own storage" in page.text_content("#sending")
        assert "POST" in page.text_content("#requests")
        assert page.is_disabled("#submit")  # no key on this server: a dry run only
        page.check("#accept-cost")
        assert page.is_disabled("#submit")
        w.plain_everywhere()
        w.shot("dry-run", "#submit-box")
        page.eval_on_selector("#requests", "el => el.closest('details').open = false")
        w.shot("page", full_page=True, scale=0.5)
    with w.doing("phone size"):
        page.set_viewport_size(PHONE)
        w.no_sideways_scroll()
        w.shot("phone", full_page=False)


@pytest.mark.slow
def test_a_failing_output_says_why_beside_it(serve: Callable[..., str], walk: Callable[..., Walk],
                                             half_person_clip: Path) -> None:  # fmt: skip
    w = walk()
    page = w.page
    with w.doing("check"):
        open_page(w, serve(orientation="image"))
        drop(page, [(half_person_clip, "video/mp4")])
        page.click("#check")
        check_done(page)
    with w.doing("fix a window without the person"):
        set_range(page, "#win-end", 12)
        set_range(page, "#win-start", 7)
        set_range(page, "#win-end", 12)
        assert page.text_content("#win-text") == "7.0–12.0 s (5.0 s)"
        page.click("#fix")
        block = page.wait_for_selector("#outputs .output:has(a.download)", timeout=90000)
        text = block.text_content()
        assert "does not pass" in text and "Why the fixed clip does not pass:" in text
        assert "a person shows in" in text and "pose.no_person" in text  # the reason, beside its output
        assert near(page, "#outputs .output .why", "#outputs .output a.download") < 250
        page.wait_for_function("() => document.querySelector('#outputs video').readyState >= 2", timeout=20000)
        w.plain_everywhere()
        w.shot("failing-output", "#fix-box")


@pytest.mark.slow
def test_the_default_provider_finishes_with_a_link(serve: Callable[..., str], walk: Callable[..., Walk],
                                                   person_media: tuple[Path, Path], ledger: None) -> None:  # fmt: skip
    image, clip = person_media
    w = walk()
    page = w.page
    with w.doing("prepare"):
        open_page(w, serve(orientation="image"))
        assert page.input_value("#provider") == "kling"  # the page's default: kling has no upload API
        assert "kling downloads the clip from a link" in page.text_content("#delivery")
        drop(page, [(image, "image/jpeg"), (clip, "video/mp4")])
        page.uncheck("#content")
        page.click("#check")
        check_done(page)
        page.click("#dry-run")
        page.wait_for_selector("#dry-status .error:not(:empty)", timeout=90000)
        error = page.text_content("#dry-status .error")
        assert "paste its link under “clip link”" in error
        assert near(page, "#dry-status", "#dry-run") < 40 and in_view(page, "#dry-status")
        assert page.evaluate("document.activeElement.id") == "video-url"
        assert page.is_visible("#prepared a.download[href$='video.mp4']")  # what to put behind the link
        w.plain_everywhere()
        w.shot("link-needed", "#submit-box")
    with w.doing("dry run with the link"):
        page.fill("#video-url", "https://media.example/clips/dance-ready.mp4")
        page.click("#dry-run")
        page.wait_for_selector("#cost-box:not([hidden])", timeout=30000)
        assert page.text_content("#cost").startswith("cost: about $0.70 for 10.0 s")
        assert "the link you gave" in page.text_content("#sending")
        assert "https://media.example/clips/dance-ready.mp4" in page.text_content("#requests")
        assert len(server_jobs(page, "prepare")) == 1  # the prepared pair was used again
        w.plain_everywhere()
        w.shot("link", "#submit-box")


@pytest.mark.slow
def test_the_servers_upload_destination_needs_no_link(serve: Callable[..., str], walk: Callable[..., Walk],
                                                      person_media: tuple[Path, Path], ledger: None,
                                                      tmp_path: Path) -> None:  # fmt: skip
    from preflight.submit.upload import UploadTarget

    image, clip = person_media
    upload = UploadTarget(f"file://{tmp_path / 'www'}", "https://media.example/clips")
    w = walk()
    page = w.page
    with w.doing("dry run"):
        open_page(w, serve(orientation="image", upload=upload))
        assert "This server uploads the prepared clip to its own storage" in page.text_content("#delivery")
        drop(page, [(image, "image/jpeg"), (clip, "video/mp4")])
        page.uncheck("#content")
        page.click("#check")
        check_done(page)
        page.click("#dry-run")
        page.wait_for_selector("#cost-box:not([hidden])", timeout=90000)
        assert "uploaded by this server to its own storage" in page.text_content("#sending")
        assert "(this server's upload destination)" in page.text_content("#requests")
        w.plain_everywhere()


@pytest.mark.slow
def test_a_change_of_model_provider_or_orientation_checks_again(serve: Callable[..., str], walk: Callable[..., Walk],
                                                               person_media: tuple[Path, Path]) -> None:  # fmt: skip
    image, clip = person_media
    w = walk()
    page = w.page
    posted: list[tuple[str, int]] = []
    page.on("request", lambda r: posted.append((r.url, len(r.post_data_buffer or b""))) if r.method == "POST" else None)
    with w.doing("check"):
        open_page(w, serve(orientation="image"))
        drop(page, [(image, "image/jpeg"), (clip, "video/mp4")])
        page.uncheck("#content")
        page.click("#check")
        check_done(page)
        assert page.text_content("#card-video .verdict") == "fixable"  # 12 s: over 10 s with “follow the photo”
        page.click("#fix")
        page.wait_for_selector("#outputs a.download", timeout=90000)
    with w.doing("another model and provider"):
        posted.clear()
        page.select_option("#model", "kling-v3")
        checked_against(page, "kling-v3 at kling")
        assert "Fix again" in page.text_content("#outputs")  # the old outputs are not shown as these settings'
        page.select_option("#provider", "fal")
        checked_against(page, "kling-v3 at fal")
        checks = [(url, size) for url, size in posted if "/v1/check" in url]
        assert len(checks) == 2 and all(size < 2000 for _, size in checks), checks  # no file sent again
        assert page.text_content("#image-name") == "me.jpg (on the server)"
    with w.doing("orientation"):
        page.select_option("#orientation", "video")
        page.wait_for_function("() => document.getElementById('against').textContent.endsWith('“follow the clip”')",
                               timeout=60000)  # fmt: skip
        assert page.text_content("#card-video .verdict") == "passes"  # 12 s fits 30 s
        settings = [j["settings"] for j in server_jobs(page, "check")]
        assert {"model": "kling-v3", "provider": "fal", "orientation": "video", "profile": "kling-v3@fal"} in settings
        w.plain_everywhere()
        w.shot("recheck", "header")


@pytest.mark.slow
def test_an_hevc_clip_plays_in_the_preview(serve: Callable[..., str], walk: Callable[..., Walk],
                                           hevc_clip: Path) -> None:  # fmt: skip
    w = walk()
    page = w.page
    with w.doing("check"):
        open_page(w, serve())
        drop(page, [(hevc_clip, "video/quicktime")])
        page.uncheck("#content")
        page.click("#check")
        check_done(page)
    with w.doing("play"):
        page.wait_for_function("() => document.getElementById('preview').readyState >= 2", timeout=30000)
        assert "a preview made for the browser" in page.text_content("#preview-status")
        page.evaluate("document.getElementById('preview').play()")
        page.wait_for_function("() => document.getElementById('preview').currentTime > 0.5", timeout=15000)
        assert page.evaluate("document.getElementById('preview').videoWidth") > 0
        w.plain_everywhere()
        w.shot("preview", "#timeline-box")


@pytest.fixture
def slow_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """/v1/fix of an upload named ``*slow*`` spends a few seconds before its work (see worker_faults)."""
    import worker_faults

    import preflight.serve.work as work

    monkeypatch.setattr(work, "run_fix", worker_faults.run_fix_slow)


@pytest.mark.slow
def test_jobs_survive_a_double_click_a_reload_and_a_cancel(serve: Callable[..., str], walk: Callable[..., Walk],
                                                           person_media: tuple[Path, Path], slow_fix: None,
                                                           tmp_path: Path) -> None:  # fmt: skip
    import httpx

    _, clip = person_media
    slow = tmp_path / "slow-dance.mp4"
    slow.write_bytes(clip.read_bytes())
    w = walk()
    page = w.page
    with w.doing("check"):
        url = serve(orientation="image")
        open_page(w, url)
        drop(page, [(slow, "video/mp4")])
        page.uncheck("#content")
        page.click("#check")
        check_done(page)
    with w.doing("double click"):
        page.dblclick("#fix")
        page.wait_for_selector("#fix-status .line:not([hidden])")
        assert page.is_disabled("#fix")
        time.sleep(1.0)
        assert len(server_jobs(page, "fix")) == 1  # one job for two clicks
        w.shot("progress", "#fix-box")
    with w.doing("reload mid-job"):
        assert "fix=" in page.url or "run-fix=" in page.url
        page.wait_for_function("() => document.getElementById('preview').readyState >= 2", timeout=20000)
        previews = len(server_jobs(page, "preview"))
        page.reload()
        page.wait_for_selector("#fix-status .line:not([hidden])", timeout=10000)  # still running, beside Fix
        assert page.is_disabled("#fix")
        page.wait_for_selector("#outputs a.download[href$='video.mp4']", timeout=60000)
        assert page.text_content("#card-video .name") == "slow-dance.mp4"  # the check is back too
        page.wait_for_function("() => document.querySelector('#outputs video').readyState >= 2", timeout=20000)
        assert page.evaluate("document.getElementById('preview').readyState") >= 2
        assert len(server_jobs(page, "preview")) == previews + 1  # the fixed clip's; the check's was kept
        page.wait_for_function("() => document.querySelectorAll('#history tbody tr').length >= 2", timeout=10000)
        history = page.text_content("#history")
        assert "check" in history and "fix" in history and "slow-dance.mp4" in history
        w.plain_everywhere()
        w.shot("history", "#history-box")
    with w.doing("a new tab"):
        other = w.context.new_page()
        other.goto(url)  # no URL fragment: the browser's storage knows the jobs
        other.wait_for_selector("#outputs a.download[href$='video.mp4']", timeout=20000)
        other.close()
    with w.doing("cancel"):
        page.click("#fix")
        page.wait_for_selector("#fix-status .cancel:not([hidden])", timeout=10000)
        running = [j for j in server_jobs(page, "fix") if j["state"] in ("queued", "running")]
        assert len(running) == 1
        w.cancelled = True
        page.click("#fix-status .cancel")
        page.wait_for_function("() => document.querySelector('#fix-status .says').textContent.startsWith('cancelled')",
                               timeout=10000)  # fmt: skip
        assert not page.is_disabled("#fix")
        assert httpx.get(f"{url}/v1/jobs/{running[0]['id']}").status_code == 404  # DELETE: its worker stopped
        w.shot("cancelled", "#fix-box")


def offer(page: Any, card: str, code: str) -> Any:
    """The button a finding offers beside it (the content fix that cures it), by the finding's code."""
    return page.locator(f"{card} .findings li:has(code:text-is('{code}')) button.offer")


def loaded(page: Any, selector: str, timeout: float = 20000) -> None:
    page.wait_for_function("(s) => { const i = document.querySelector(s); return i && i.naturalWidth > 0; }",
                           arg=selector, timeout=timeout)  # fmt: skip


@pytest.mark.slow
@pytest.mark.model
def test_frame_one_person_and_steady_a_shaky_camera(serve: Callable[..., str], walk: Callable[..., Walk],
                                                    two_people_clip: Path, shaky_clip: Path,
                                                    person_media: tuple[Path, Path], ledger: None) -> None:  # fmt: skip
    """A two-person clip: the check offers "frame one person" beside the findings it cures; Fix crops one person
    and shows the frames before and after. A shaky clip: "steady the camera" beside the shake; Fix steadies it
    and shows the picture's path before and after; preparing the pair uses the same choices."""
    image, _ = person_media
    w = walk()
    page = w.page
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    with w.doing("check two people"):
        open_page(w, serve())
        assert page.input_value("#reframe") == "none" and page.is_disabled("#person")
        assert not page.is_checked("#stabilize")
        drop(page, [(two_people_clip, "video/mp4")])
        page.click("#check")
        check_done(page)
        findings = page.text_content("#card-video .findings")
        assert "Fix can cure it with “frame one person”: one fixed crop cuts out the 1 other(s)" in findings
        people = offer(page, "#card-video", "pose.multiple_people")
        assert people.text_content() == "frame one person when fixing"
        assert people.get_attribute("aria-pressed") == "false"
    with w.doing("take the offer"):
        people.click()
        assert page.input_value("#reframe") == "fixed" and not page.is_disabled("#person")
        small = offer(page, "#card-video", "pose.subject_too_small")  # the same control: pressed too
        assert small.get_attribute("aria-pressed") == people.get_attribute("aria-pressed") == "true"
        assert "frame one person: “fixed (one still crop)”, who: the largest" in page.text_content("#prepare-with")
        page.select_option("#person", "left")
        w.plain_everywhere()
        w.shot("offer", "#card-video")
    with w.doing("fix one person"):
        page.click("#fix")
        page.wait_for_selector("#outputs a.download[href$='video.mp4']", timeout=90000)
        assert any("/v1/fix?" in u and "reframe=fixed" in u and "person=left" in u for u in posted), posted
        block = page.locator("#outputs .output:has(a.download)")
        done = block.locator("ul.done").text_content()
        assert "cropped to" in done and "around one person" in done and "1 other person cut out" in done
        assert "the person on the left, as chosen" in done
        assert block.locator(".verdict").text_content() == "passes"
        loaded(page, "#outputs figure.reframe img")
        alt = page.get_attribute("#outputs figure.reframe img", "alt")
        assert alt.startswith("before and after framing one person") and "1 other person cut out" in alt
        assert near(page, "#outputs figure.reframe", "#outputs a.download") < 400  # beside the fixed file
        page.wait_for_function("() => document.querySelector('#outputs video').readyState >= 2", timeout=20000)
        w.plain_everywhere()
        w.shot("reframe", "#fix-box")
    with w.doing("check a shaky clip"):
        page.select_option("#reframe", "none")
        assert page.is_disabled("#person") and people.get_attribute("aria-pressed") == "false"
        drop(page, [(shaky_clip, "video/mp4")])
        page.click("#check")
        check_done(page)
        steady = offer(page, "#card-video", "motion.camera_shake")
        assert steady.text_content() == "steady the camera when fixing"
        assert "or let Fix steady it: tick “steady a shaky camera”" in page.text_content("#card-video .findings")
        steady.click()
        assert page.is_checked("#stabilize") and steady.get_attribute("aria-pressed") == "true"
    with w.doing("fix the shake"):
        page.click("#fix")
        page.wait_for_selector("#outputs ul.done li:has-text('steadied the shaky camera')", timeout=90000)
        assert any("/v1/fix?" in u and "stabilize=true" in u and "reframe=none" in u for u in posted), posted
        done = page.text_content("#outputs ul.done")
        assert re.search(r"steadied the shaky camera: the picture jumped 1\.\d\d% of the frame from frame to frame, "
                         r"now 0\.\d\d%; cropped in by 1\d% to hide the moving edges", done), done
        loaded(page, "#outputs figure.stabilize img")
        alt = page.get_attribute("#outputs figure.stabilize img", "alt")
        assert alt.startswith("before and after steadying the camera") and "jagged as filmed" in alt
        assert "as filmed (orange) and steadied (blue)" in page.text_content("#outputs figure.stabilize figcaption")
        page.wait_for_function("() => document.querySelector('#outputs video').readyState >= 2", timeout=20000)
        page.evaluate("""() => new Promise((done) => { const v = document.querySelector('#outputs video');
            v.addEventListener('seeked', done, { once: true }); v.currentTime = 1; })""")  # a frame for the picture
        w.plain_everywhere()
        w.shot("stabilize", "#fix-box")
    with w.doing("prepare with the same choices"):
        assert "steady a shaky camera: yes" in page.text_content("#prepare-with")
        drop(page, [(image, "image/jpeg")])
        page.click("#dry-run")
        page.wait_for_selector("#prepared a.download[href$='video.mp4']", timeout=90000)
        assert any("/v1/prepare?" in u and "stabilize=true" in u for u in posted), posted
        assert "steadied the shaky camera" in page.text_content("#prepared")
        loaded(page, "#prepared figure.stabilize img")
        w.plain_everywhere()
    with w.doing("the pair's framing"):
        # The photo is a close-up, the clip (the portrait on the wall) a half-body shot: the pair offers the crop.
        pair = offer(page, "#prepared", "framing.mismatch")
        assert pair.text_content() == "frame one person when preparing the pair"
        assert "“frame one person” crops the clip to a close-up when the pair is prepared" in page.text_content(
            "#prepared .findings")
        pair.click()
        assert page.input_value("#reframe") == "fixed" and page.is_checked("#stabilize")
        page.click("#dry-run")
        page.wait_for_selector("#prepared li:has-text('cut from a half-body shot')", timeout=90000)
        assert any("/v1/prepare?" in u and "reframe=fixed" in u and "stabilize=true" in u for u in posted), posted
        clip = page.locator("#prepared li:has(a.download[href$='video.mp4'])")
        assert "to a close-up (head and shoulders), like the photo" in clip.text_content()
        # The crop left too little room to steady the shake as well: said beside the file, in words.
        refused = clip.locator(".findings li:has(code:text-is('stabilize.crop_too_large'))").text_content()
        assert "not steadied: hiding the moving edges of this shake would crop" in refused
        assert "under the 340 px the provider takes" in refused
        assert clip.locator(".findings button.offer").count() == 0  # both were tried: nothing offered again
        assert page.locator("#prepared > ul.findings").count() == 0  # the pair's finding is cured
        loaded(page, "#prepared figure.reframe img")
        w.plain_everywhere()
        w.shot("prepared-framing", "#prepared")
    with w.doing("reload"):
        page.reload()
        page.wait_for_selector("#prepared figure.reframe img", timeout=20000)  # the prepared pair is back
        assert page.input_value("#reframe") == "fixed" and page.input_value("#person") == "left"
        assert page.is_checked("#stabilize")  # and the choices it was made with
        assert offer(page, "#card-video", "motion.camera_shake").get_attribute("aria-pressed") == "true"
    with w.doing("phone size"):
        page.set_viewport_size(PHONE)
        w.no_sideways_scroll()
