"""preflight: get media ready for AI motion-transfer video generation.

Probe, check against a provider profile, fix, and submit a subject image and a motion clip for
Kling v2.6 Motion Control and the providers that resell it.
"""

from . import html_report  # noqa: F401  (adds the "html" format to preflight.report.FORMATS)
from ._version import __version__ as __version__
from .api import check, check_one, collect_paths, probe, resolve_profile
from .errors import PreflightError, ProbeError, ProfileError, UsageError
from .models import Finding, Item, MediaInfo, Report, Severity, Skipped
from .profiles import Profile, available_profiles, load_profile

__all__ = [
    "Finding",
    "Item",
    "MediaInfo",
    "PreflightError",
    "ProbeError",
    "Profile",
    "ProfileError",
    "Report",
    "Severity",
    "Skipped",
    "UsageError",
    "available_profiles",
    "check",
    "check_one",
    "collect_paths",
    "load_profile",
    "probe",
    "resolve_profile",
]
