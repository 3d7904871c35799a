"""Imported by the batch pool's fork server only (``executors.FORKSERVER_PRELOAD``): MediaPipe,
without the plotting and sound libraries it would drag in (:mod:`preflight.analyze.mediapipe_import`),
so every worker forked after it starts with MediaPipe imported."""

from ..analyze.mediapipe_import import load_mediapipe

load_mediapipe()
