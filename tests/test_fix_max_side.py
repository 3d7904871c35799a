"""``fix --max-side``: a clip that is re-encoded anyway comes out no larger than the models generate.

The default (1920) needs 4K clips to show; here the planner tests use 4K sizes (no media) and the
media tests a small clip with a small cap (640x360 with ``max_side=320``) and a profile whose minimum
side lets 180 px through.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.batch import BatchSettings, run_batch
from preflight.cli import cli, main
from preflight.errors import UsageError
from preflight.fix import fix
from preflight.fix.ops import Copy, Scale
from preflight.fix.options import DEFAULT_MAX_SIDE, FixOptions
from preflight.fix.plan import plan_fix
from preflight.media.probe import probe
from preflight.models import MediaInfo, VideoStream
from preflight.profiles import load_profile
from preflight.rules import check_media
from preflight.samples import make_clip, make_image

KLING = load_profile("kling-v2.6")
NOVITA = load_profile("novita")


def clip(*, codec="h264", w=3840, h=2160, rotation=0, pix_fmt="yuv420p", depth=8, fmt="mp4") -> MediaInfo:
    coded = (h, w) if rotation in (90, 270) else (w, h)
    video = VideoStream(codec, "High", pix_fmt, depth, coded[0], coded[1], w, h, rotation, 30.0, 30.0, False,
                        None, None, 10.0)  # fmt: skip
    return MediaInfo(f"in.{fmt}", "video", fmt, fmt, 20_000_000, w, h, 10.0, None, video, ())


def plan(info: MediaInfo, profile=KLING, **options):
    findings = check_media(info, profile, "video")
    return plan_fix(info, findings, profile, "video", FixOptions(**options))


# --- the planner ----------------------------------------------------------------------------------


def test_a_4k_clip_that_is_reencoded_is_scaled_to_1920_by_default():
    p = plan(clip(codec="vp9"))
    assert FixOptions().max_side == DEFAULT_MAX_SIDE == 1920
    assert p.encodes and p.geometry.canvas == (1920, 1080)
    assert p.find(Scale) == Scale((3840, 2160), (1920, 1080), 1920)
    assert "scale 3840x2160->1920x1080 (max side 1920)" in p.actions


def test_the_displayed_long_side_is_capped_a_portrait_phone_clip_becomes_1080x1920():
    # An iPhone's 4K HLG portrait clip: stored 3840x2160 with a 90 degree display matrix, 10-bit.
    p = plan(clip(codec="hevc", w=2160, h=3840, rotation=90, pix_fmt="yuv420p10le", depth=10))
    assert p.geometry.canvas == (1080, 1920)
    assert p.actions[:3] == ("transcode h264", "bake rotation 90", "scale 2160x3840->1080x1920 (max side 1920)")


def test_zero_keeps_the_size_and_a_clip_under_the_cap_is_not_scaled():
    assert plan(clip(codec="vp9"), max_side=0).find(Scale) is None
    assert plan(clip(codec="vp9"), max_side=0).geometry.canvas == (3840, 2160)
    small = plan(clip(codec="vp9", w=1280, h=720))
    assert small.encodes and small.find(Scale) is None and small.geometry.canvas == (1280, 720)
    exact = plan(clip(codec="vp9", w=1080, h=1920))
    assert exact.find(Scale) is None


def test_a_clip_that_can_be_copied_is_not_reencoded_to_shrink_it():
    assert plan(clip()).operations == (Copy(),)
    assert plan(clip(fmt="mov"), max_side=640).operations == (Copy(),)


def test_the_cap_never_scales_up_and_never_goes_under_the_profiles_minimum_side():
    tiny = plan(clip(codec="vp9", w=320, h=200), max_side=1000)  # upscaled to the 340 px minimum, not to 1000
    assert tiny.geometry.canvas == (544, 340) and tiny.find(Scale).max_side is None
    held = plan(clip(codec="vp9"), max_side=400)  # 400x225 would break kling's 340 px minimum
    assert held.geometry.canvas == (606, 340)
    assert any("under the profile's 340 px" in n for n in held.notes), held.notes


def test_the_cap_applies_to_the_padded_and_the_cropped_frame():
    # novita takes 0.4..2.5: a 5:1 clip is padded (or cropped) first, then the whole output is capped.
    padded = plan(clip(codec="vp9", w=4000, h=800), profile=NOVITA, max_side=1920)
    assert padded.geometry.canvas == (1920, 768) and padded.geometry.content == (1920, 384)
    cropped = plan(clip(codec="vp9", w=4000, h=800), profile=NOVITA, max_side=1000, aspect="crop")
    assert cropped.geometry.crop[2:] == (2000, 800) and cropped.geometry.canvas == (1000, 400)


@pytest.mark.parametrize("bad", [-1, -1920, math.nan, math.inf, 1.5, 8, True, "1920", None])
def test_fix_options_refuse_a_bad_max_side_as_usage_invalid(bad):
    with pytest.raises(UsageError) as err:
        FixOptions(max_side=bad)
    assert err.value.code == "usage.invalid"


def test_a_whole_float_is_taken_as_pixels():
    assert FixOptions(max_side=1280.0).max_side == 1280
    assert replace(FixOptions(), max_side=0).max_side == 0


# --- on media ---------------------------------------------------------------------------------------

SMALL = 'name = "small"\nbase = "kling-v2.6"\n[video]\nmin_side = 100\nmin_duration = 1.0\n'
"""kling-v2.6 with a 100 px minimum side, so a 640x360 clip can be capped at 320 (-> 320x180)."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("maxside")
    (d / "small.toml").write_text(SMALL)
    return {
        "profile": d / "small.toml",
        # MPEG-4 Part 2 is not a codec the profile takes: re-encoded
        "wide": make_clip(d / "wide.mp4", duration=2, width=640, height=360, fps=10, codec="mpeg4"),
        # shown upright (90 degrees): the rotation is baked in, so re-encoded
        "turned": make_clip(d / "turned.mp4", duration=2, width=640, height=360, fps=10, rotation=90),
        # H.264 in MP4, nothing to change: copied
        "fine": make_clip(d / "fine.mp4", duration=2, width=640, height=360, fps=10),
        "photo": make_image(d / "me.jpg", width=640, height=800),
    }


def _one(report):
    (r,) = report.results
    assert r.ok, (r.reason, r.after)
    return r


def test_a_reencoded_clip_comes_out_at_the_cap(media, tmp_path: Path):
    r = _one(fix([media["wide"]], tmp_path, media["profile"], content=False, max_side=320))
    assert "scale 640x360->320x180 (max side 320)" in r.actions
    out = probe(r.output)
    assert (out.width, out.height, out.video.codec) == (320, 180, "h264")


def test_a_rotated_clip_is_capped_on_its_displayed_long_side(media, tmp_path: Path):
    r = _one(fix([media["turned"]], tmp_path, media["profile"], content=False, max_side=320))
    assert "bake rotation 90" in r.actions and "scale 360x640->180x320 (max side 320)" in r.actions
    out = probe(r.output)
    assert (out.width, out.height, out.video.rotation) == (180, 320, 0)


def test_zero_keeps_the_size_and_a_copyable_clip_stays_a_copy(media, tmp_path: Path):
    kept = _one(fix([media["wide"]], tmp_path / "a", media["profile"], content=False, max_side=0))
    assert not any(a.startswith("scale") for a in kept.actions)
    assert (probe(kept.output).width, probe(kept.output).height) == (640, 360)
    copied = _one(fix([media["fine"]], tmp_path / "b", media["profile"], content=False, max_side=320))
    assert copied.actions == ("copy",)
    assert Path(copied.output).read_bytes() == media["fine"].read_bytes()


def test_the_cli_option_end_to_end(media, tmp_path: Path):
    runner = CliRunner()
    args = ["fix", str(media["wide"]), "-o", str(tmp_path / "out"), "--profile", str(media["profile"]),
            "--no-content", "--json"]  # fmt: skip
    result = runner.invoke(cli, [*args, "--max-side", "320"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)["items"]
    assert "scale 640x360->320x180 (max side 320)" in item["actions"]
    assert (item["after"]["media"]["width"], item["after"]["media"]["height"]) == (320, 180)
    for bad in ("-1", "8", "1.5", "nan", "big"):
        assert main([*args, "--max-side", bad]) == 2, bad


def test_the_cli_says_what_a_bad_max_side_is(media, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["fix", str(media["wide"]), "-o", str(tmp_path), "--max-side", "-5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("preflight: usage.invalid:") and "--max-side" in err and "-5" in err


def test_prepare_passes_it_through(media, tmp_path: Path):
    runner = CliRunner()
    args = ["prepare", "--image", str(media["photo"]), "--video", str(media["turned"]), "-o", str(tmp_path / "b"),
            "--profile", str(media["profile"]), "--no-content", "--json", "--max-side", "320"]  # fmt: skip
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    video = next(i for i in json.loads(result.stdout)["fix"]["items"] if i["path"].endswith("turned.mp4"))
    assert "scale 360x640->180x320 (max side 320)" in video["actions"]
    out = probe(video["output"])
    assert (out.width, out.height) == (180, 320)


def test_batch_passes_it_through_and_keys_the_resume_with_it(media, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "wide.mp4").write_bytes(media["wide"].read_bytes())
    state = tmp_path / "s.jsonl"
    common = dict(outdir=tmp_path / "out", profile=media["profile"], content=False, jobs=1, state_path=state)
    first = run_batch([folder], max_side=320, **common)
    (r,) = first.results
    assert r.passed and "scale 640x360->320x180 (max side 320)" in r.actions
    assert (probe(r.output).width, probe(r.output).height) == (320, 180)
    again = run_batch([folder], max_side=0, resume=True, **common)  # other work: not resumed
    (r,) = again.results
    assert not r.resumed and (probe(r.output).width, probe(r.output).height) == (640, 360)
    assert BatchSettings(outdir="o", max_side=320).fingerprint() != BatchSettings(outdir="o").fingerprint()
    assert BatchSettings(outdir="o").fix_options().max_side == 1920


def test_batch_refuses_a_bad_max_side_and_one_without_an_output_folder(media, tmp_path: Path):
    with pytest.raises(UsageError) as err:
        run_batch([media["wide"]], outdir=tmp_path / "o", content=False, jobs=1, max_side=-1)
    assert err.value.code == "usage.invalid"
    assert main(["batch", str(media["wide"].parent), "--max-side", "320", "-q"]) == 2
    runner = CliRunner()
    result = runner.invoke(cli, ["batch", str(media["wide"].parent), "--max-side", "320", "-q"])
    assert result.exit_code == 2 and "--max-side says how to fix" in result.output


def _corner(index: int, width: int, height: int):
    """A dark frame, bright in the stored top-left quarter: where that corner lands shows the turn."""
    import numpy as np

    frame = np.full((height, width, 3), 30, np.uint8)
    frame[: height // 2, : width // 2] = 220
    return frame


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_rotated_clip_scaled_before_its_turn_shows_what_the_uncapped_fix_shows(rotation, media, tmp_path: Path):
    # The graph scales a rotated SDR clip before turning it (cheaper); the picture must be the same.
    import av
    import numpy as np

    src = make_clip(tmp_path / "c.mp4", duration=2, width=640, height=360, fps=10, rotation=rotation,
                    frames=_corner)  # fmt: skip

    def first_frame(max_side: int) -> np.ndarray:
        r = _one(fix([src], tmp_path / str(max_side), media["profile"], content=False, max_side=max_side))
        with av.open(r.output) as c:
            return next(c.decode(video=0)).to_ndarray(format="gray")

    small, full = first_frame(320), first_frame(0)
    assert small.shape == (full.shape[0] // 2, full.shape[1] // 2)
    shrunk = full.reshape(small.shape[0], 2, small.shape[1], 2).mean(axis=(1, 3))
    assert np.abs(small.astype(float) - shrunk).mean() < 6


@pytest.mark.parametrize("rotation", [0, 90, 270])
def test_the_graph_itself_gives_the_capped_size(rotation, media, tmp_path: Path):
    # PyAV's encoder would silently resize a frame of the wrong size: check what the graph makes.
    import av

    from preflight import check_one
    from preflight.fix.videograph import build_graph

    src = make_clip(tmp_path / "c.mp4", duration=2, width=640, height=360, fps=10, rotation=rotation)
    profile = load_profile(str(media["profile"]))
    item = check_one(src, profile, content=False)
    p = plan_fix(item.media, item.findings, profile, "video", FixOptions(max_side=320, reencode=True))
    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        graph = build_graph(stream, p)
        graph.push(next(c.decode(stream)))
        out = graph.vpull()
    assert (out.width, out.height) == p.geometry.canvas == ((320, 180) if rotation == 0 else (180, 320))
