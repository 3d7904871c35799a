"""Content analysis: pose, motion and quality metrics from one decode of a clip (or one image)."""
