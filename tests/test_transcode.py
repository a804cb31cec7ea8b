"""The ladder plan and the one-pass ffmpeg encode, checked on real clips with ffprobe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import render_test_clip
from uploads import hls, transcode
from uploads.ffbin import ffmpeg_path
from uploads.probe import probe

pytestmark = pytest.mark.slow


# --- the plan ------------------------------------------------------------------------------------


def test_portrait_1080p_gets_every_rung_portrait():
    ladder = transcode.plan_ladder(1080, 1920, [360, 540, 720, 1080])
    assert [(r.name, r.width, r.height) for r in ladder] == [
        (360, 360, 640),
        (540, 540, 960),
        (720, 720, 1280),
        (1080, 1080, 1920),
    ]


def test_landscape_keeps_short_edge_as_rung_name():
    ladder = transcode.plan_ladder(1920, 1080, [360, 1080])
    assert [(r.name, r.width, r.height) for r in ladder] == [(360, 640, 360), (1080, 1920, 1080)]


def test_never_upscales_and_small_source_gets_one_rung_at_its_size():
    assert [r.name for r in transcode.plan_ladder(720, 1280, [360, 540, 720, 1080])] == [360, 540, 720]
    (only,) = transcode.plan_ladder(303, 539, [360, 540])
    assert (only.width, only.height) == (302, 536)  # even sizes, never bigger than the source


def test_top_rung_uses_high_profile_features_even_on_ultrafast():
    """Plain ultrafast turns off CABAC and 8x8 transforms: the stream would be Constrained Baseline."""
    spec = transcode.RUNG_SPECS[1080]
    if spec.preset == "ultrafast":
        assert "cabac=1" in spec.x264_params and "8x8dct=1" in spec.x264_params


def test_command_sets_per_rung_encoder_options_and_caps_fps(tmp_path):
    ladder = transcode.plan_ladder(1080, 1920, [360, 1080])
    plan = transcode.TranscodePlan(tmp_path / "in.mp4", tmp_path / "out", ladder, fps=120, has_audio=True)
    cmd = plan.command()
    joined = " ".join(cmd)
    assert "fps=60" in joined and cmd[cmd.index("-r") + 1] == "60"
    assert cmd[cmd.index("-g") + 1] == "120"  # 2 s at 60 fps
    for i, rung in enumerate(ladder):
        assert cmd[cmd.index(f"-preset:v:{i}") + 1] == rung.spec.preset
        assert cmd[cmd.index(f"-maxrate:v:{i}") + 1] == f"{rung.spec.maxrate_k}k"
    assert cmd[cmd.index("-protocol_whitelist") + 1] == "file,pipe"
    assert cmd[cmd.index("-var_stream_map") + 1] == "v:0,a:0,name:360 v:1,a:1,name:1080"


# --- real encodes --------------------------------------------------------------------------------


def _ffprobe(path: Path, *args: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)], check=True, capture_output=True, timeout=60
    )
    return json.loads(out.stdout)


def _encode(source: Path, outdir: Path, rungs: list[int]) -> tuple[list[transcode.Rung], list[hls.RungStats]]:
    facts = probe(source)
    ladder = transcode.plan_ladder(facts.width, facts.height, rungs)
    plan = transcode.TranscodePlan(source, outdir, ladder, fps=facts.fps, has_audio=facts.has_audio)
    transcode.run(plan, facts.duration)
    return ladder, hls.finalize(outdir, ladder, plan.out_fps)


def _joined_rung(rung_dir: Path, dest: Path) -> Path:
    """init + segments concatenated: one fMP4 file ffprobe reads like the player does."""
    playlist = hls.parse_media((rung_dir / hls.PLAYLIST).read_text())
    with open(dest, "wb") as out:
        for name in [playlist.init, *[uri for _, uri in playlist.segments]]:
            out.write((rung_dir / name).read_bytes())
    return dest


@pytest.fixture(scope="module")
def full_ladder(tmp_path_factory):
    """The one 1080x1920 encode of the suite: 3 s, with audio, all four rungs."""
    root = tmp_path_factory.mktemp("ladder")
    source = render_test_clip(root / "src.mp4", seconds=3, width=1080, height=1920)
    ladder, stats = _encode(source, root / "hls", [360, 540, 720, 1080])
    return root / "hls", ladder, stats


def test_full_ladder_is_high_profile_aac_stereo_48k_in_every_rung(full_ladder, tmp_path):
    outdir, ladder, _ = full_ladder
    assert [r.name for r in ladder] == [360, 540, 720, 1080]
    for rung in ladder:
        info = _ffprobe(_joined_rung(outdir / str(rung.name), tmp_path / f"{rung.name}.mp4"), "-show_streams")
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
        assert (video["width"], video["height"]) == (rung.width, rung.height)
        assert video["profile"] == "High", f"rung {rung.name} is {video['profile']}"
        assert video["pix_fmt"] == "yuv420p"
        assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("aac", 2, "48000")


def test_segments_are_2s_and_each_starts_on_a_keyframe(full_ladder):
    outdir, ladder, _ = full_ladder
    for rung in ladder:
        rung_dir = outdir / str(rung.name)
        playlist = hls.parse_media((rung_dir / hls.PLAYLIST).read_text())
        durations = [d for d, _ in playlist.segments]
        assert durations[:-1] and all(abs(d - 2.0) < 0.05 for d in durations[:-1]), durations
        for _, uri in playlist.segments:
            # Each segment on its own, after the init: its first video frame must be a keyframe.
            seg = rung_dir / f"check-{uri}.mp4"
            seg.write_bytes((rung_dir / playlist.init).read_bytes() + (rung_dir / uri).read_bytes())
            frames = _ffprobe(seg, "-select_streams", "v", "-show_frames", "-show_entries", "frame=key_frame")
            assert frames["frames"][0]["key_frame"] == 1, f"rung {rung.name} {uri} does not start on a keyframe"
            assert sum(f["key_frame"] for f in frames["frames"]) == 1  # and has exactly one (fixed GOP)


def test_playlists_are_vod_and_master_names_bandwidth_resolution_codecs(full_ladder):
    outdir, ladder, stats = full_ladder
    for rung in ladder:
        text = (outdir / str(rung.name) / hls.PLAYLIST).read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    master = (outdir / hls.MASTER).read_text()
    for s in stats:
        line = next(line for line in master.splitlines() if f"RESOLUTION={s.width}x{s.height}" in line)
        assert f"BANDWIDTH={s.peak_bps}," in line and f"AVERAGE-BANDWIDTH={s.average_bps}" in line
        assert 'CODECS="avc1.64' in line and "mp4a.40.2" in line  # avc1.64xxxx: High profile
        assert s.peak_bps >= s.average_bps > 0
    assert [s.average_bps for s in stats] == sorted(s.average_bps for s in stats)


def test_rotated_phone_clip_comes_out_upright(tmp_path):
    """Coded 640x360 with rotation metadata (how phones store portrait): output is 360x640, upright."""
    landscape = tmp_path / "coded.mp4"
    # Left half red, right half blue in the coded frame; rotation tells the player to turn it.
    graph = "color=red:size=320x360:rate=30:duration=3[l];color=blue:size=320x360:rate=30:duration=3[r];[l][r]hstack"
    base = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    subprocess.run([*base, "-f", "lavfi", "-i", graph, "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(landscape)], check=True, timeout=60)  # fmt: skip
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([*base, "-i", str(landscape), "-c", "copy", "-metadata:s:v", "rotate=90", str(rotated)], check=True)
    facts = probe(rotated)
    assert facts.rotation in (90, 270) and (facts.width, facts.height) == (360, 640)

    ladder, _ = _encode(rotated, tmp_path / "hls", [360, 540])
    assert [(r.width, r.height) for r in ladder] == [(360, 640)]
    out = _joined_rung(tmp_path / "hls" / "360", tmp_path / "out.mp4")
    info = _ffprobe(out, "-show_streams", "-select_streams", "v")["streams"][0]
    assert (info["width"], info["height"]) == (360, 640)
    assert not [s for s in info.get("side_data_list", []) if "rotation" in s]  # no second rotation by players

    def top_and_bottom(path: Path, *flags: str) -> tuple[bytes, bytes]:
        cmd = [ffmpeg_path(), "-v", "error", *flags, "-i", str(path), "-frames:v", "1", "-vf", "scale=1:2:flags=area",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
        raw = subprocess.run(cmd, check=True, capture_output=True, timeout=60).stdout
        return raw[:3], raw[3:6]

    # What a player shows for the source (rotation applied) is what our rung holds, pixel for pixel.
    expected = top_and_bottom(rotated)
    assert _close(top_and_bottom(out), expected)
    assert expected[0] != expected[1]  # top and bottom differ: the check can tell up from down


def _close(a: tuple[bytes, bytes], b: tuple[bytes, bytes], tol: int = 24) -> bool:
    return all(abs(x - y) <= tol for pa, pb in zip(a, b, strict=True) for x, y in zip(pa, pb, strict=True))


def test_silent_source_gives_video_only_renditions_that_play(tmp_path):
    source = render_test_clip(tmp_path / "silent.mp4", seconds=3, audio=False)
    ladder, stats = _encode(source, tmp_path / "hls", [360])
    master = (tmp_path / "hls" / hls.MASTER).read_text()
    assert "mp4a" not in master and 'CODECS="avc1.64' in master
    out = _joined_rung(tmp_path / "hls" / "360", tmp_path / "out.mp4")
    streams = _ffprobe(out, "-show_streams")["streams"]
    assert [s["codec_type"] for s in streams] == ["video"]
    decoded = subprocess.run([ffmpeg_path(), "-v", "error", "-i", str(out), "-f", "null", "-"], capture_output=True)
    assert decoded.returncode == 0 and not decoded.stderr


def test_high_fps_mono_44k_source_is_capped_at_60fps_and_stereo_48k(tmp_path):
    source = tmp_path / "fast.mp4"
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
           "-f", "lavfi", "-i", "testsrc2=size=360x640:rate=120:duration=2",
           "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100:duration=2",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-ac", "1", str(source)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=60)
    _encode(source, tmp_path / "hls", [360])
    out = _joined_rung(tmp_path / "hls" / "360", tmp_path / "out.mp4")
    streams = {s["codec_type"]: s for s in _ffprobe(out, "-show_streams")["streams"]}
    assert streams["video"]["r_frame_rate"] == "60/1"
    assert (streams["audio"]["channels"], streams["audio"]["sample_rate"]) == (2, "48000")


def test_encoder_failure_raises_with_the_log_tail(tmp_path, small_clip):
    facts = probe(small_clip)
    ladder = transcode.plan_ladder(facts.width, facts.height, [360])
    bad = [transcode.Rung(r.name, r.width, r.height, transcode.RungSpec(800, 64, 23, "no-such-preset")) for r in ladder]
    plan = transcode.TranscodePlan(small_clip, tmp_path / "hls", bad, fps=facts.fps, has_audio=True)
    with pytest.raises(transcode.TranscodeError) as info:
        transcode.run(plan, facts.duration)
    assert "no-such-preset" in info.value.log_tail or "preset" in info.value.log_tail.lower()


def test_trim_keeps_only_the_chosen_span_and_progress_reaches_the_end(tmp_path, small_clip):
    facts = probe(small_clip)
    ladder = transcode.plan_ladder(facts.width, facts.height, [360])
    plan = transcode.TranscodePlan(
        small_clip, tmp_path / "hls", ladder, fps=facts.fps, has_audio=True, trim_start=1.0, trim_end=3.0
    )
    seen: list[float] = []
    transcode.run(plan, facts.duration, lambda p: seen.append(p.fraction))
    hls.finalize(tmp_path / "hls", ladder, plan.out_fps)
    playlist = hls.parse_media((tmp_path / "hls" / "360" / hls.PLAYLIST).read_text())
    assert playlist.duration == pytest.approx(2.0, abs=0.1)
    assert seen and seen[-1] == pytest.approx(1.0, abs=0.05)  # fraction of the trimmed span, not the file
