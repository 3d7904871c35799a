"""The HTML report: self-contained, escaped, and working in a real browser (headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from preflight import api
from preflight.batch import run_batch
from preflight.cli import main
from preflight.html_report import render_html
from preflight.samples import make_clip, make_image, photo_frames, sample_photo

EVIL_DIR = "<script>alert(1)<"
EVIL_FILE = "script>.png"  # together: ".../<script>alert(1)</script>.png"

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing; skip only if that fails."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and shutil.which("apt-get"):
        for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "chromium"]):  # fmt: skip
            subprocess.run(cmd, capture_output=True, timeout=900, check=False)
            found = shutil.which("chromium")
            if found:
                break
    if found is None:
        pytest.skip("headless Chromium is not available and `apt-get install chromium` failed")
    return found


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A person clip, a small photo (fixable), a cut-off upload (fail) and a file named like a script."""
    root = tmp_path_factory.mktemp("html")
    photo = sample_photo()
    make_clip(root / "person.mp4", duration=3.5, width=480, height=640, frames=photo_frames(photo, frames=88))
    make_image(root / "small.webp", format="WEBP", pixels=photo[::2, ::2].copy())
    data = (root / "person.mp4").read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) // 3])
    (root / EVIL_DIR).mkdir()
    make_image(root / EVIL_DIR / EVIL_FILE, format="PNG", pixels=photo)
    return root


def _chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip


def test_paths_and_messages_are_escaped(mixed: Path) -> None:
    report = api.check([mixed], content=False)
    page = render_html(report)
    evil = str(mixed / EVIL_DIR / EVIL_FILE)
    assert "<script>alert(1)</script>" in evil
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # ours only
    assert "http://" not in page and "https://" not in page  # nothing fetched from anywhere
    assert 'content="default-src &#x27;none&#x27;' in page  # the CSP: no network, no other script


def test_check_format_html_report_file(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["check", str(mixed), "--no-content", "--report", str(out)]) == 1  # format from the extension
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr data-verdict=") == 4
    assert page.count('src="data:image/jpeg;base64,') == 3  # every decodable file has its preview


@pytest.mark.model
def test_report_in_headless_chromium(chromium: str, mixed: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "batch.html"
    result = run_batch([mixed], jobs=2, previews=True, state_path=tmp_path / "state")
    from preflight.cli.batch_cmd import _write_file

    _write_file(result, "html", report_file)
    page = report_file.read_text()
    assert page.count("<tr data-verdict=") == 4
    person = next(r for r in result.results if r.path.endswith("person.mp4"))
    assert "pose" in person.item.analysis, person.item.findings
    assert person.preview and person.preview.startswith("data:image/jpeg;base64,")

    # Drive the page the way a person does: click the "fail" filter, then sort by verdict.
    probe_js = """<script>
    window.addEventListener('load', function(){
      var rows = document.querySelectorAll('#files tbody tr');
      var out = {rows: rows.length, scripts: document.scripts.length};
      document.querySelector('button[data-filter=fail]').click();
      out.visible_after_fail = Array.prototype.filter.call(rows, function(r){return !r.hidden;}).length;
      document.querySelector('button[data-filter=all]').click();
      document.querySelectorAll('th[data-sort]')[1].click();
      out.first_after_sort = document.querySelector('#files tbody tr').getAttribute('data-verdict');
      out.images = Array.prototype.filter.call(document.images, function(i){return i.naturalWidth > 0;}).length;
      var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
      document.body.appendChild(pre);
    });
    </script></body>"""
    driven = tmp_path / "driven.html"
    driven.write_text(page.replace("</body>", probe_js))
    dom = _chromium(chromium, "--virtual-time-budget=5000", "--dump-dom", driven.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout)
    assert found, dom.stderr[-2000:]
    import json

    state = json.loads(found.group(1).replace("&quot;", '"'))
    assert state["rows"] == 4
    assert state["visible_after_fail"] == 1  # only the cut-off upload
    assert state["first_after_sort"] == "fail"
    assert state["scripts"] == 2  # the report's and the probe's: the file name did not become a script
    assert state["images"] == 3  # the data: URI previews decode in the browser

    shot = tmp_path / "report.png"
    _chromium(chromium, "--window-size=1400,1000", f"--screenshot={shot}", report_file.as_uri())
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.model
def test_batch_clip_preview_comes_from_the_checks_own_decode(
    mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import io

    from PIL import Image

    from preflight.batch import preview

    def second_pass(*args: object, **kwargs: object) -> None:
        raise AssertionError("a clip was decoded a second time for its preview")

    monkeypatch.setattr(preview, "_clip_frames", second_pass)  # jobs=1: the check runs in this process
    result = run_batch([mixed / "person.mp4", mixed / "small.webp"], jobs=1, previews=True,
                       state_path=tmp_path / "state")  # fmt: skip
    person, photo = result.results
    assert person.item.analysis["contact_sheet"]["tiles"] >= 4
    sheet = Image.open(io.BytesIO(base64.b64decode(person.preview.split(",", 1)[1])))
    assert sheet.format == "JPEG" and sheet.width == preview.SHEET_WIDTH and sheet.height > sheet.width / 2
    pixels = np.asarray(sheet.convert("RGB")).astype(int)
    magenta = (pixels[:, :, 0] > 150) & (pixels[:, :, 1] < 110) & (pixels[:, :, 2] > 130)
    assert magenta.sum() > 400, "the skeleton's right side is drawn (the photo alone gives under 200 such pixels)"
    assert photo.preview and photo.preview.startswith("data:image/jpeg;base64,")  # images: one thumbnail


def test_batch_fix_preview_also_comes_from_the_checks_own_decode(
    mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.batch import preview

    def second_pass(*args: object, **kwargs: object) -> None:
        raise AssertionError("a clip was decoded a second time for its preview")

    monkeypatch.setattr(preview, "_clip_frames", second_pass)
    result = run_batch([mixed / "person.mp4"], outdir=tmp_path / "out", jobs=1, previews=True,
                       state_path=tmp_path / "state")  # fmt: skip
    (person,) = result.results
    assert person.output is not None and person.preview and person.preview.startswith("data:image/jpeg;base64,")
    assert person.item.analysis["contact_sheet"]["tiles"] >= 4
