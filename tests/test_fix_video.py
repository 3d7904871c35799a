"""fix on real clips: each output is probed (and read packet by packet where the path matters)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import av
import numpy as np
import pytest

from preflight import check, probe
from preflight.aspects import ASPECT_TOLERANCE
from preflight.fix import fix
from preflight.fix.outputs import OutputNamer, written_atomically
from preflight.fix.video import container_duration
from preflight.samples import make_clip

FPS = 10  # few frames keep the encodes fast; providers bound nothing about the rate


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def video_packets(path: Path, n: int) -> list[bytes]:
    with av.open(str(path)) as c:
        out = []
        for p in c.demux(c.streams.video[0]):
            if p.size:
                out.append(bytes(p))
            if len(out) == n:
                break
    return out


@pytest.fixture(scope="module")
def long_mov(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compliant 45 s H.264/AAC MOV with a keyframe every second."""
    d = tmp_path_factory.mktemp("long")
    return make_clip(d / "long.mov", duration=45, width=352, height=352, fps=FPS, container="mov",
                     audio=True, gop=FPS)  # fmt: skip


def one(report):
    assert len(report.results) == 1
    return report.results[0]


def test_long_mov_becomes_a_30s_mp4_without_reencoding(long_mov: Path, tmp_path: Path):
    before = sha(long_mov)
    r = one(fix([long_mov], tmp_path, content=False))
    assert r.actions == ("remux", "trim 0.000-30.000 (stream copy)")
    out = Path(r.output)
    assert out == tmp_path / "long.mp4" and r.after.verdict == "pass"
    info = probe(out)
    assert info.format == "mp4" and info.video.codec == "h264" and info.audio[0].codec == "aac"
    assert 30.0 - 1 / FPS <= info.duration <= 30.0
    assert container_duration(out) <= 30.0
    # the packets are the source's own bytes: nothing was decoded or encoded
    assert video_packets(out, 25) == video_packets(long_mov, 25)
    assert sha(long_mov) == before
    # faststart: the index comes before the media data
    head = out.read_bytes()[:200_000]
    assert head.find(b"moov") < head.find(b"mdat")


def test_start_on_a_keyframe_copies_and_image_orientation_caps_at_10s(long_mov: Path, tmp_path: Path):
    r = one(fix([long_mov], tmp_path, orientation="image", start=12.0, content=False))
    assert r.actions == ("remux", "trim 12.000-22.000 (stream copy)")
    info = probe(r.output)
    assert 10.0 - 1 / FPS <= info.duration <= 10.0
    with av.open(str(long_mov)) as c:  # the first kept packet is the source's keyframe at 12 s
        key = next(bytes(p) for p in c.demux(c.streams.video[0]) if p.pts is not None
                   and p.is_keyframe and abs(float(p.pts * p.time_base) - 12.0) < 1e-6)  # fmt: skip
    assert video_packets(Path(r.output), 1) == [key]


def test_start_between_keyframes_reencodes_an_exact_window(long_mov: Path, tmp_path: Path):
    r = one(fix([long_mov], tmp_path, orientation="image", start=12.55, content=False))
    assert r.actions[:2] == ("trim 12.550-22.550 (re-encode)", "transcode h264/aac")
    info = probe(r.output)
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p" and info.audio[0].codec == "aac"
    assert 10.0 - 1 / FPS <= info.duration <= 10.0 and r.after.verdict == "pass"


def test_rotation_is_baked_and_small_clip_scaled_up(tmp_path: Path):
    src = make_clip(tmp_path / "phone.mov", duration=3.2, width=320, height=240, fps=FPS, rotation=90,
                    container="mov", audio=True)  # fmt: skip
    r = one(fix([src], tmp_path / "out", content=False))
    assert "bake rotation 90" in r.actions and r.actions[0] == "transcode h264/aac"
    info = probe(r.output)
    assert info.video.rotation == 0 and info.width < info.height  # portrait pixels, no display matrix
    assert min(info.width, info.height) >= 340 and info.width % 2 == 0 and info.height % 2 == 0
    assert abs(info.duration - 3.2) <= 1 / FPS and r.after.verdict == "pass"


def test_mkv_is_remuxed_and_avi_mpeg4_transcoded(tmp_path: Path):
    mkv = make_clip(tmp_path / "a.mkv", duration=3, width=352, height=352, fps=FPS, container="matroska")
    avi = make_clip(tmp_path / "b.avi", duration=3, width=352, height=352, fps=FPS, codec="mpeg4", container="avi")
    report = fix([mkv, avi], tmp_path / "out", content=False)
    remuxed, transcoded = report.results
    assert remuxed.actions == ("remux",)
    assert video_packets(Path(remuxed.output), 30) == video_packets(mkv, 30)
    assert transcoded.actions == ("transcode h264",)
    assert probe(transcoded.output).video.codec == "h264"
    assert report.ok


def test_variable_rate_becomes_constant(tmp_path: Path):
    times = [i * 0.1 + (0.04 if i % 3 == 0 else 0.0) for i in range(40)]
    src = make_clip(tmp_path / "vfr.mp4", width=352, height=352, timestamps=times)
    assert probe(src).video.variable_fps
    r = one(fix([src], tmp_path / "out", content=False))
    assert any(a.startswith("constant rate") for a in r.actions)
    assert not probe(r.output).video.variable_fps and r.after.verdict == "pass"


def test_size_cap_is_met_with_a_computed_bitrate(tmp_path: Path):
    rng = np.random.default_rng(0)
    src = make_clip(tmp_path / "noise.mp4", duration=3, width=352, height=352, fps=FPS, audio=True,
                    frames=lambda i, w, h: rng.integers(0, 256, (h, w, 3), dtype=np.uint8))  # fmt: skip
    cap = src.stat().st_size // 3
    profile = tmp_path / "tight.toml"
    profile.write_text(
        f'name = "tight"\nbase = "kling-v2.6"\n[video]\nmax_bytes = {cap}\nmin_duration = 3.0\nmax_duration = 30.0\n'
    )
    r = one(fix([src], tmp_path / "out", profile=profile, content=False))
    assert any(a.startswith("bitrate ") for a in r.actions)
    assert Path(r.output).stat().st_size <= cap and r.after.verdict == "pass"


def test_output_never_overwrites_an_input_in_the_same_folder(tmp_path: Path):
    src = make_clip(tmp_path / "ok.mp4", duration=3, width=352, height=352, fps=FPS)
    before = sha(src)
    r = one(fix([src], tmp_path, content=False))
    assert r.actions == ("copy",) and Path(r.output) == tmp_path / "ok-1.mp4"
    assert sha(src) == before == sha(r.output)
    again = one(fix([src], tmp_path, content=False))
    assert Path(again.output) == tmp_path / "ok-2.mp4"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_unfixable_inputs_are_reported_and_the_batch_goes_on(tmp_path: Path):
    short = make_clip(tmp_path / "short.mp4", duration=2, width=352, height=352, fps=FPS)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    good = make_clip(tmp_path / "good.mkv", duration=3, width=352, height=352, fps=FPS, container="matroska")
    report = fix([short, corrupt, good], tmp_path / "out", content=False)
    short_r, corrupt_r, good_r = report.results
    assert short_r.output is None and short_r.reason.startswith("duration.too_short")
    assert corrupt_r.output is None and corrupt_r.reason
    assert good_r.after.verdict == "pass"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.mp4"]
    assert not report.ok


def test_a_name_taken_meanwhile_is_not_replaced(tmp_path: Path):
    namer = OutputNamer(tmp_path)
    target = namer.reserve("x", "mp4")
    with written_atomically(target, lambda: namer.reserve("x", "mp4")) as staged:
        staged.tmp.write_bytes(b"ours")
        target.write_bytes(b"theirs")  # another process took the free name first
    assert target.read_bytes() == b"theirs"
    assert staged.target == tmp_path / "x-1.mp4" and staged.target.read_bytes() == b"ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x-1.mp4", "x.mp4"]


def test_foreign_sound_is_reencoded_to_aac_and_the_video_copied(tmp_path: Path):
    src = make_clip(tmp_path / "ac3.mov", duration=3.5, width=352, height=352, fps=FPS, container="mov",
                    audio=True, audio_codec="ac3")  # fmt: skip
    r = one(fix([src], tmp_path / "out", content=False))
    assert r.actions == ("remux", "transcode audio ac3->aac")
    info = probe(r.output)
    assert info.audio[0].codec == "aac" and abs(info.audio[0].duration - 3.5) < 0.05
    assert video_packets(Path(r.output), 35) == video_packets(src, 35)
    assert r.after.verdict == "pass" and not r.after.findings


@pytest.mark.parametrize("rotation", [0, 90])
def test_anamorphic_pixels_are_squared(tmp_path: Path, rotation: int) -> None:
    from fractions import Fraction

    def circle(i: int, w: int, h: int) -> np.ndarray:
        # A circle as it should look once the 4:3 pixels are shown: an ellipse in coded pixels.
        yy, xx = np.mgrid[0:h, 0:w]
        inside = ((xx - w / 2) * 4 / 3) ** 2 + (yy - h / 2) ** 2 < (h / 3) ** 2
        frame = np.zeros((h, w, 3), np.uint8)
        frame[inside] = 255
        return frame

    clip = make_clip(tmp_path / "ana.mp4", duration=3, width=640, height=480, sample_aspect=Fraction(4, 3),
                     rotation=rotation, frames=circle)  # fmt: skip
    info = probe(clip)
    assert info.video is not None and info.video.sample_aspect == "4:3"
    assert (info.width, info.height) == ((853, 480) if rotation == 0 else (480, 853))
    result = one(fix([clip], tmp_path / "out", content=False))
    out = probe(result.output)
    assert out.video is not None and out.video.sample_aspect is None and out.video.rotation == 0
    assert (out.width, out.height) == ((854, 480) if rotation == 0 else (480, 854))
    assert any(a.startswith("square pixels 4:3") for a in result.actions)
    with av.open(str(result.output)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="gray")
    ys, xs = np.nonzero(frame > 128)
    width, height = xs.max() - xs.min(), ys.max() - ys.min()
    assert abs(width - height) <= 4  # round again, not squeezed


# --- a provider that takes a list of ratios (aspect_choices) ----------------------------------

RUNWAY_RATIOS = ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672")


def runway_profile(folder: Path) -> Path:
    """Runway Act-Two's contract as a user's own profile: six output ratios, clips of 3-30 s."""
    choices = "aspect_choices = [" + ", ".join(f'"{c}"' for c in RUNWAY_RATIOS) + "]\n"
    path = folder / "runway-act-two.toml"
    path.write_text(
        'name = "runway-act-two"\n'
        f'[image]\nformats = ["jpeg", "png"]\nmax_bytes = 16_000_000\n{choices}'
        f'[video]\ncontainers = ["mp4", "mov"]\nvideo_codecs = ["h264"]\naudio_codecs = ["aac"]\n{choices}'
        "max_bytes = 32_000_000\n"
        "min_duration = 3.0\nmax_duration = 30.0\n"
    )
    return path


def shown_ratio_error(path: Path, choice: str) -> float:
    info = probe(path)
    w, h = (int(x) for x in choice.split(":"))
    return abs(math.log(info.width / info.height / (w / h)))


@pytest.mark.parametrize(
    ("width", "height", "rotation", "aspect", "nearest"),
    [
        (480, 360, 0, "pad", "1104:832"),  # 4:3 is 0.48% off Runway's 1104:832: padded to it
        (480, 360, 0, "crop", "1104:832"),
        (480, 360, 90, "pad", "832:1104"),  # shown 360x480 (3:4)
        (504, 216, 0, "crop", "1584:672"),  # 21:9 is 1% off Runway's 1584:672
    ],
)  # fmt: skip
def test_clip_is_fixed_to_the_nearest_allowed_ratio(
    tmp_path: Path, width: int, height: int, rotation: int, aspect: str, nearest: str
) -> None:
    profile = runway_profile(tmp_path)
    src = make_clip(tmp_path / "take.mp4", duration=3.2, width=width, height=height, fps=FPS, rotation=rotation,
                    audio=True)  # fmt: skip
    (before,) = check([src], profile, content=False).items
    assert [f.code for f in before.findings if f.code.startswith("aspect.")] == ["aspect.out_of_range"]
    assert f"fix pads it to {nearest}" in before.findings[0].message
    r = one(fix([src], tmp_path / "out", profile=profile, aspect=aspect, content=False))
    assert any(a.startswith(aspect) for a in r.actions), r.actions
    out = probe(r.output)
    assert out.width % 2 == 0 and out.height % 2 == 0 and out.video.rotation == 0
    assert shown_ratio_error(Path(r.output), nearest) <= math.log1p(ASPECT_TOLERANCE)
    assert r.after.verdict == "pass"
    (after,) = check([r.output], profile, content=False).items
    assert after.verdict == "pass" and after.findings == ()


def test_portrait_clip_of_an_allowed_ratio_passes_as_is(tmp_path: Path) -> None:
    profile = runway_profile(tmp_path)
    src = make_clip(tmp_path / "portrait.mp4", duration=3, width=360, height=640, fps=FPS)  # 9:16, like 1080x1920
    (item,) = check([src], profile, content=False).items
    assert item.verdict == "pass" and item.findings == ()
    r = one(fix([src], tmp_path / "out", profile=profile, content=False))
    assert r.actions == ("copy",) and sha(Path(r.output)) == sha(src)
