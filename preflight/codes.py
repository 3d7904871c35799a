"""Every finding and error code preflight can produce: the registry the docs and the tests read.

A code is ``area.what`` (``duration.too_long``), stable once released: a pipeline branches on it, so
codes are added, never renamed. Each entry says what the code means in one line, the severity it
carries in a report when it is a finding about a file, and the exit status a command ends with when
it is what stopped the command (or failed a file). ``tests/test_codes.py`` reads the package's source
and fails when a code is produced that is not listed here, or listed and never produced; the
reference page of the documentation is generated from :data:`CODES`.

The vocabulary started in DESIGN.md; codes were added where a case needed its own name.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Severity

__all__ = ["CODES", "EXIT_MEANINGS", "Code", "by_code", "finding_codes"]

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741 (I for info reads as E and W do)
FAIL, USAGE, INTERNAL, INTERRUPTED = 1, 2, 3, 130

EXIT_MEANINGS = {
    0: "every input passes (warnings and notes do not count unless --strict)",
    1: "some input fails or is only fixable, could not be fixed, or the machine said no (a full disk, "
       "a folder that cannot be written, no memory)",
    2: "usage error: an unknown profile, a bad option or value, a set-up problem; nothing was checked",
    3: "internal error: a bug in preflight (--debug shows the traceback)",
    130: "stopped by Ctrl-C (SIGINT)",
    141: "stdout was closed early (preflight check ... | head -1): nothing more is written, nothing is said",
    143: "stopped by SIGTERM",
}  # fmt: skip
"""The exit statuses of every ``preflight`` command (cli/__init__.py)."""


@dataclass(frozen=True)
class Code:
    """One code of the vocabulary."""

    code: str
    meaning: str
    """One line: when the code is produced."""
    severity: Severity | None
    """Its severity as a finding in a report (the default: a profile's ``[content.severity]`` may
    change a content gate's); None for a code that is only ever an error line or an HTTP answer."""
    exit: int | None
    """The exit status when this code is what fails a file or stops the command: 1 for an error
    finding, 0 for a warning or a note (1 with ``--strict``), 2 for a usage error, 3 for a bug; None
    for an answer of ``preflight serve`` only (see :attr:`http`)."""
    http: int | None = None
    """The HTTP status ``preflight serve`` answers a request with when this code refuses it."""

    @property
    def area(self) -> str:
        """What the code is about: the part before the first dot (``duration``)."""
        return self.code.split(".", 1)[0]


def _finding(code: str, severity: Severity, meaning: str) -> Code:
    return Code(code, meaning, severity, FAIL if severity is E else 0)


def _error(code: str, exit: int, meaning: str, http: int | None = None) -> Code:
    return Code(code, meaning, None, exit, http)


def _answer(code: str, http: int, meaning: str) -> Code:
    return Code(code, meaning, None, None, http)


# fmt: off
CODES: tuple[Code, ...] = (
    # --- the file itself ----------------------------------------------------------------------
    _finding("file.not_found", E, "the file does not exist, or is a broken symbolic link (`extra.link_target` "
             "says where it points)"),
    _finding("file.empty", E, "the file has no bytes"),
    _finding("file.unreadable", E, "the file cannot be opened or read (permissions, an I/O error)"),
    _finding("file.is_directory", E, "a folder where a file was expected"),
    _finding("file.special", E, "a FIFO, socket or device where a file was expected: never opened (reading a FIFO "
             "waits forever); `extra.file_type` says which"),
    _finding("file.link_loop", E, "a symbolic link in a loop of links (`ln -s b a; ln -s a b`); the folder's other "
             "files are still checked and fixed; also `--report` into such a link"),
    _finding("file.truncated", E, "an MP4/MOV cut off: no movie header, or an index pointing past the end"),
    _finding("format.unrecognized", E, "the content is no image or clip preflight knows (judged by the bytes, never "
             "the name)"),
    _finding("format.unsupported", E, "a format or container the profile does not take: fix converts or rewrites it"),
    _finding("decode.error", E, "the media cannot be decoded, or a clip's video is mostly undecodable (fewer than "
             "half its packets decode cleanly once damage is seen)"),
    _finding("video.missing_stream", E, "a clip without a video stream"),
    _finding("image.animated", W, "an animated image: providers use one still, fix keeps the first frame"),
    _finding("image.color_mode", W, "a CMYK (an error), 16-bit, transparent, palette or 1-bit image: fix converts it "
             "to 8-bit RGB"),
    _finding("image.too_many_pixels", E, "decompression-bomb guard: more than 179 MP is refused before any pixel is "
             "decoded"),
    _finding("image.color_profile", W, "a photo whose colours are in Display P3 / Adobe RGB: fix converts the pixels "
             "to sRGB"),
    _finding("image.hdr", W, "an HEIC/AVIF/PNG tagged HLG or PQ: fix tone-maps it to sRGB"),
    _finding("image.wide_gamut", W, "a still in BT.2020 primaries: fix converts it to sRGB"),
    _finding("image.exif_orientation", W, "the image is rotated by its EXIF tag, which some decoders ignore: fix bakes "
             "the rotation in"),
    # --- the profile's limits -----------------------------------------------------------------
    _finding("duration.too_short", E, "the clip is shorter than the profile's minimum (not fixable: a clip "
             "cannot be lengthened without changing the motion)"),
    _finding("duration.too_long", E, "the clip is longer than the profile allows for its orientation: fix trims it "
             "(choose the window with --start/--end)"),
    _finding("duration.unknown", W, "the clip states no duration"),
    _finding("duration.header_mismatch", E, "an MP4/MOV movie header claims a length its streams do not have (ffprobe "
             "and providers read the header): fix remuxes it with the real one"),
    _finding("resolution.too_small", E, "a side is under the profile's minimum: fix scales it up"),
    _finding("resolution.too_large", E, "a side is over the profile's maximum: fix scales it down"),
    _finding("aspect.out_of_range", E, "the shape is outside the profile's aspect range, or none of its "
             "`aspect_choices`: fix pads (or with --aspect crop crops)"),
    _finding("size.too_large", E, "the file is over the profile's byte cap: fix re-compresses it"),
    _finding("codec.unsupported", E, "a video codec the profile does not take (ProRes, MPEG-4 Part 2, VP9...): fix "
             "transcodes to H.264"),
    _finding("audio.unsupported", W, "an audio codec the profile does not take: fix encodes AAC"),
    _finding("fps.out_of_range", E, "a frame rate outside the profile's range: fix resamples it"),
    _finding("fps.variable", W, "a variable frame rate: fix makes it constant"),
    _finding("prompt.too_long", E, "the prompt is longer than the provider accepts"),
    _finding("video.rotated", W, "the clip is rotated by its display matrix, which some decoders ignore: fix bakes "
             "the rotation in"),
    _finding("video.non_square_pixels", W, "anamorphic video (a pixel aspect ratio other than 1:1): fix makes the "
             "pixels square"),
    _finding("video.pixel_format", W, "10-bit or 4:2:2/4:4:4 video: fix converts to 8-bit 4:2:0"),
    _finding("video.hdr", W, "an HLG or PQ clip (phones record HLG): fix tone-maps it to SDR BT.709"),
    _finding("video.wide_gamut", W, "SDR in BT.2020 primaries: fix converts it to BT.709"),
    _finding("video.corrupt_frames", W, "video packets FFmpeg refused (skipped) or frames it had to repair, with how "
             "many and when (`extra.times`): fix re-encodes the video"),
    _finding("audio.corrupt_frames", W, "sound packets FFmpeg refused: fix re-encodes the sound, silence filling what "
             "was lost so it stays in sync"),
    # --- the content gates and the pair check -------------------------------------------------
    _finding("pose.no_person", E, "no person found (in an image), or too rarely in a clip"),
    _finding("pose.torso_not_visible", E, "head, shoulders and torso are not visible enough"),
    _finding("pose.multiple_people", W, "more than one person: the model animates one"),
    _finding("pose.subject_too_small", W, "the person covers too little of the frame"),
    _finding("pose.unavailable", I, "the pose model could not be loaded (or its cache cannot be written: the message "
             "says why), the other gates ran; the verdict reads \"(pose not checked)\"; an error with --strict "
             "or `[content] require_pose = true`"),
    _finding("motion.scene_cut", W, "the clip has scene cuts: the motion jumps"),
    _finding("motion.camera_shake", W, "the camera shakes: its motion would be read as the person's"),
    _finding("quality.too_dark", W, "too dark for the pose model to see the joints"),
    _finding("quality.overexposed", W, "too much of the picture is clipped white"),
    _finding("quality.blurry", W, "the picture (or the person in it) is blurry"),
    _finding("orientation.mismatch", W, "pair check: the person faces different ways in the image and the clip (a note "
             "with orientation=video)"),
    _finding("framing.mismatch", W, "pair check: the person is framed much closer in one file than the other"),
    _finding("analysis.too_thin", E, "an image or clip more than 10 times longer than wide: no person fits, so the "
             "content gates do not run; the limits still read its real size"),
    _finding("analysis.error", E, "the content analysis failed on this file (a library's error, the message says "
             "which); --no-content checks the limits only"),
    # --- fixing -------------------------------------------------------------------------------
    _finding("fix.failed", E, "an operation could not produce an output"),
    _finding("fix.output", E, "the output folder cannot be made or written in, or an output cannot be named"),
    _finding("fix.overshoot", E, "a stream-copy trim cannot end within the allowed length"),
    _finding("reframe.people_overlap", W, "--reframe: another person moves through the same part of the frame as the "
             "subject, so no fixed crop shows one person alone (the crop still enlarges the subject)"),
    _finding("reframe.subject_too_small", W, "--reframe: even the smallest crop the provider takes (its minimum side) "
             "leaves the subject under the pose gate's share of the frame: film closer"),
    _finding("reframe.camera_motion", W, "--reframe follow: the window moves with the subject, and the provider copies "
             "that motion into its output as camera motion (the message says how far and how fast)"),
    _finding("stabilize.crop_too_large", W, "fix --stabilize could not hide the borders of the shake within the "
             "profile's minimum side or a crop-in of a fifth: the clip is not stabilized (written without it)"),
    _finding("fix.frames_lost", E, "an output held fewer frames or seconds of a stream than its plan kept (counted by "
             "demuxing both files): never written; a copy that falls short is re-encoded instead"),
    # --- the machine --------------------------------------------------------------------------
    _finding("output.no_space", E, "the disk (or quota) filled while an output was written: nothing partial is left; "
             "the message names the folder, what the file needed (when known) and what is free"),
    _finding("output.not_writable", E, "the output folder is read-only or not ours to write: found before any "
             "decoding, reported for every input"),
    _finding("os.error", E, "another OS error no other code names, with the system's words"),
    _finding("memory.exhausted", E, "the machine ran out of memory on this input (a MemoryError, ENOMEM, a native "
             "std::bad_alloc); the other files are still checked, fixed or batched"),
    _finding("worker.died", E, "the worker process checking a file (batch) or running a job (serve) died: killed by "
             "a signal (SIGKILL: often the out-of-memory killer; try fewer --jobs) or a crash; the rest goes on"),
    _error("output.exists", FAIL, "a download (`jobs download`, `jobs wait -o`, `submit -o`) would replace an existing "
           "file: refused before anything is fetched or sent; --overwrite (for jobs, also --force) replaces it"),
    _error("interrupted", INTERRUPTED, "the run was stopped: by Ctrl-C (SIGINT, exit 130) or SIGTERM (exit 143); "
           "temporary files are removed"),
    _error("internal.error", INTERNAL, "a bug in preflight: the line names the exception (--debug shows the "
           "traceback)", http=500),
    _error("preflight.error", FAIL, "an error no more specific code names"),
    # --- set-up -------------------------------------------------------------------------------
    _error("usage.invalid", USAGE, "a bad option or value, a missing argument, a folder with nothing to check, a "
           "question left unanswered"),
    _error("profile.unknown", USAGE, "no profile, model or provider of that name"),
    _error("profile.invalid", USAGE, "a profile, model or provider file that cannot be used (unknown keys, wrong "
           "types, a minimum above its maximum, nested too deep, over 1 MB, a loop of `base`)"),
    _error("profile.unsupported", USAGE, "the provider does not serve that model"),
    _error("config.invalid", USAGE, "a config file or environment variable that cannot be used (both "
           "PREFLIGHT_PROFILE and PREFLIGHT_MODEL set, a bad base URL, a number out of range)"),
    _error("model.unavailable", FAIL, "the pose model cannot be installed or loaded (`preflight models`)"),
    _error("dask.missing", USAGE, "--executor dask without dask.distributed installed (the `dask` extra)"),
    _error("dask.unreachable", FAIL, "the Dask scheduler given with --scheduler cannot be reached"),
    _finding("dask.not_shared", E, "batch --executor dask: an input or the -o folder the client sees is not on storage "
             "the worker shares (the message names the worker); a --profile file the workers cannot read stops the "
             "batch before any file"),
    _error("fsspec.missing", USAGE, "a URL input or --upload without fsspec, or without the package for its "
           "protocol (s3fs, gcsfs...)"),
    # --- batch, bundles and the job ledger ----------------------------------------------------
    _error("batch.locked", FAIL, "another `preflight batch` (its pid in the message) is writing into the same -o "
           "folder"),
    _error("bundle.invalid", FAIL, "not a bundle `preflight prepare` wrote, or a damaged manifest (a folder with no "
           "manifest at all is a usage error, exit 2)", http=409),
    _error("bundle.modified", FAIL, "a file of the bundle changed after prepare wrote it: run prepare again"),
    _error("job.not_found", USAGE, "no job of that id in the ledger (or on the server)", http=404),
    _error("job.no_task", FAIL, "the job has no provider task id: its create never answered, or the outcome is "
           "unknown"),
    _error("job.finished", FAIL, "`jobs cancel` of a job that has already finished"),
    _error("ledger.invalid", USAGE, "the ledger is a damaged file, not SQLite, another program's database or a newer "
           "preflight's ledger: left as it is"),
    _error("ledger.unavailable", FAIL, "the ledger cannot be opened or written (an unusable path, read-only, disk "
           "full) or stayed locked past 30 s"),
    # --- submitting ---------------------------------------------------------------------------
    _error("submit.failed", FAIL, "a provider call failed in a way no more specific code names"),
    _error("submit.auth", FAIL, "the provider refused the key (401)"),
    _error("submit.no_key", FAIL, "no key for this provider in the environment or the config file"),
    _error("submit.account", FAIL, "the key works but the provider reports an account exception (Kling 1100): check "
           "the account in the provider's console; not retried"),
    _error("submit.forbidden", FAIL, "the key works but the account has no permission for this API or model (Kling "
           "1103); not retried"),
    _error("submit.ip_blocked", FAIL, "this machine's IP address is not on the account's IP whitelist (Kling 1304); "
           "not retried"),
    _error("submit.no_credits", FAIL, "the account is out of credits (402 or the provider's own code)"),
    _error("submit.invalid", FAIL, "the provider refused a parameter (400/422, or an unknown model)"),
    _error("submit.content_policy", FAIL, "the provider refused the inputs or the prompt under its content policy"),
    _error("submit.rate_limited", FAIL, "429 after the retries ran out: try again later"),
    _error("submit.provider_error", FAIL, "the provider answered with an error of its own (a 5xx, an error event)"),
    _error("submit.provider_unavailable", FAIL, "the provider could not take or run requests now (fal's "
           "`request_timeout`, `runner_*` errors) after the retries, or it said not to retry"),
    _error("submit.bad_response", FAIL, "the provider's answer lacks what its API documents (no task id, no upload "
           "URL, not JSON)"),
    _error("submit.unsupported", FAIL, "the provider's API has no such call (a cancel, a look-up by our id)"),
    _error("submit.task_failed", FAIL, "the provider ran the task and it failed, with the provider's own message"),
    _error("submit.network", FAIL, "network trouble after the retries ran out"),
    _error("submit.outcome_unknown", FAIL, "a create was sent and no answer came: the task may exist; it is never "
           "re-sent blindly"),
    _error("submit.needs_url", USAGE, "the provider has no upload API and the file is local: give --video-url or "
           "--upload"),
    _error("submit.upload_no_url", USAGE, "--upload DEST cannot make a URL for DEST (not s3:// or gs:// and no "
           "--upload-base-url): nothing sent"),
    _error("submit.upload_failed", FAIL, "the --upload store refused or could not be reached: nothing created"),
    _error("submit.duplicate", FAIL, "the same pair and settings were already submitted (or are of unknown outcome): "
           "--again pays again"),
    _error("submit.check_failed", FAIL, "the pair does not pass the profile: prepare it, or --force"),
    _error("submit.timeout", FAIL, "the job is still running when the wait ends: `jobs wait` picks it up"),
    _error("submit.download_failed", FAIL, "the result could not be downloaded (or was cut short)"),
    _error("submit.no_result", FAIL, "the job has no result to download yet"),
    # --- preflight serve ----------------------------------------------------------------------
    _error("serve.token_required", USAGE, "`preflight serve` refuses to bind beyond loopback without a token"),
    _error("serve.missing", USAGE, "the `serve` extra is not installed (the message gives the pip command)"),
    _answer("serve.invalid", 400, "a request the server refuses for a reason no more specific code names"),
    _answer("serve.unauthorized", 401, "an API call without the token"),
    _answer("serve.forbidden", 403, "a Host header that is not this machine (DNS rebinding)"),
    _answer("serve.csrf", 403, "a state-changing browser call not from the server's own page"),
    _answer("upload.empty", 400, "an upload with no bytes"),
    _answer("upload.too_large", 413, "an upload that passed twice the profile's cap for its role: refused while it "
            "streamed"),
    _answer("upload.aborted", 400, "the client went away, or the body was cut off before its end"),
    _answer("upload.invalid", 400, "not multipart, an unknown or repeated file field, a missing file (415: a file "
            "sent under the wrong role)"),
)
# fmt: on
"""The vocabulary, grouped by what it is about (the order of the reference page)."""


def by_code() -> dict[str, Code]:
    """Code -> its entry."""
    return {entry.code: entry for entry in CODES}


def finding_codes() -> frozenset[str]:
    """The codes that can be a finding about a file (the keys ``[content.severity]`` may name)."""
    return frozenset(entry.code for entry in CODES if entry.severity is not None)
