"""TFLite metadata and ``.task`` bundles: what turns two bare BlazePose models into a loadable bundle.

The Tasks API refuses a float image model without NormalizationOptions metadata, and mediapipe 1.x's
own ``metadata_writers`` does not import (a compiled part is missing); it does ship the flatbuffers
schemas, so :func:`with_image_metadata` writes the metadata itself. :func:`write_task_bundle` zips the
models deterministically (fixed times, stored, 16-byte aligned), so the same inputs always give the
same bytes and the built bundle can be pinned by sha256 (:mod:`.posemodel` does).
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Mapping

from ..errors import ModelError
from .mediapipe_import import load_mediapipe

__all__ = ["DETECTOR_NAME", "LANDMARKS_NAME", "with_image_metadata", "write_task_bundle"]

DETECTOR_NAME = "pose_detector.tflite"
LANDMARKS_NAME = "pose_landmarks_detector.tflite"
ZIP_TIME = (2025, 1, 31, 0, 0, 0)
"""Fixed member timestamps: the same inputs give the same bytes (changing it changes the pin)."""


def write_task_bundle(members: Mapping[str, bytes]) -> bytes:
    """Member name -> TFLite bytes, as the bytes of a ``.task`` zip (deterministic, in order)."""
    buffer = io.BytesIO()
    # Stored, not deflated: MediaPipe maps the members straight out of the bundle.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            # An alignment extra field (Android zipalign's 0xD935: id, size, alignment, zeros)
            # makes the member's data start 16-byte aligned, so its weights are aligned in memory.
            pad = -(buffer.tell() + 30 + len(name.encode()) + 6) % 16
            info.extra = struct.pack("<HHH", 0xD935, 2 + pad, 16) + b"\0" * pad
            zf.writestr(info, data)
    return buffer.getvalue()


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

    load_mediapipe()
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    try:
        tree = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0))
    except Exception as exc:  # flatbuffers raises anything on a file that is not a model
        raise ModelError(f"{name}: not a TFLite model ({exc})") from exc
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
