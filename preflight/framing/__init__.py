"""Where a content fix puts its window, worked out from the check's analysis (pure arithmetic, no pixels).

- :mod:`.reframe`: ``--reframe``: who the subject is, the window that holds their motion, its size and
  place (and which of the check's findings such a window would cure, which the check itself reports);
- :mod:`.follow`: ``--reframe follow``: a window of that size moving with the subject, smoothed;
- :mod:`.stabilize`: ``--stabilize``: the camera path smoothed, the shake the window takes out;
- :mod:`.moving`: the moving window they hand to ``fix`` (:class:`.moving.MovingCrop`).

Below ``api`` (the check says what a reframe would cure) and ``fix`` (which plans and runs these
windows in its one re-encode); above ``analyze``, whose thresholds they read. Nothing here is imported
by the package itself: numpy loads only when a window moves.
"""
