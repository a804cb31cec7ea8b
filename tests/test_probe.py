"""Probing before transcoding: container sniffing, ffprobe facts, the product's limits."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import render_test_clip
from uploads import probe as probe_mod
from uploads.ffbin import ffmpeg_path
from uploads.probe import ProbeError, probe, sniff_container, validate


def test_small_clip_facts(small_clip):
    facts = probe(small_clip)
    assert (facts.width, facts.height, facts.rotation) == (360, 640, 0)
    assert facts.is_portrait and facts.short_edge == 360
    assert facts.fps == pytest.approx(30, abs=0.1)
    assert facts.duration == pytest.approx(4, abs=0.2)
    assert facts.video_codec == "h264" and facts.has_audio
    validate(facts)


def test_ffmpeg_fallback_parser_agrees_with_ffprobe(small_clip):
    """The imageio-ffmpeg wheel ships no ffprobe: parsing `ffmpeg -i` must give the same facts."""
    a, b = probe_mod._probe_ffprobe(small_clip), probe_mod._probe_ffmpeg(small_clip)
    assert (a.width, a.height, a.rotation, a.video_codec, a.has_audio) == (
        b.width,
        b.height,
        b.rotation,
        b.video_codec,
        b.has_audio,
    )
    assert a.fps == pytest.approx(b.fps, abs=0.1) and a.duration == pytest.approx(b.duration, abs=0.1)


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "empty"),
        (b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", "playlist"),
        (b"ffconcat version 1.0\nfile /etc/passwd\n", "playlist"),
        (b"<html>not a video</html>" * 4, "not a video"),
    ],
)
def test_sniff_refuses_what_is_not_a_video_container(tmp_path, head, message):
    path = tmp_path / "upload.mp4"
    path.write_bytes(head)
    with pytest.raises(ProbeError, match=message):
        sniff_container(path)


def test_hls_playlist_named_mp4_never_reaches_the_demuxer(tmp_path):
    path = tmp_path / "sneaky.mp4"
    path.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n/etc/passwd\n#EXT-X-ENDLIST\n")
    with pytest.raises(ProbeError, match="playlist"):
        probe(path)


def test_truncated_mp4_is_refused(tmp_path, small_clip):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(small_clip.read_bytes()[:3000])
    with pytest.raises(ProbeError):
        validate(probe(cut))


def test_rotation_metadata_swaps_display_size(tmp_path, small_clip):
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-i", str(small_clip), "-c", "copy", "-metadata:s:v", "rotate=90", str(rotated)],
        check=True,
    )
    facts = probe(rotated)
    assert facts.rotation in (90, 270) and (facts.width, facts.height) == (640, 360)


def test_audio_only_is_refused(tmp_path):
    audio = tmp_path / "voice.mp4"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(audio)], check=True
    )
    with pytest.raises(ProbeError, match="no video"):
        validate(probe(audio))


def test_limits_come_from_settings(tmp_path, settings):
    clip = render_test_clip(tmp_path / "c.mp4", seconds=3, width=128, height=256, fps=50, audio=False)
    facts = probe(clip)
    validate(facts)
    settings.UPLOAD_MAX_SECONDS = 2
    with pytest.raises(ProbeError, match="limit is 2 s"):
        validate(facts)
    settings.UPLOAD_MAX_SECONDS = 60
    settings.UPLOAD_MAX_FPS = 30
    with pytest.raises(ProbeError, match="50 fps"):
        validate(facts)
    settings.UPLOAD_MAX_FPS = 120
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    with pytest.raises(ProbeError, match="too large"):
        validate(facts)
    settings.UPLOAD_MAX_PIXELS = 4096 * 2304
    settings.UPLOAD_MIN_SECONDS = 5
    with pytest.raises(ProbeError, match="too short"):
        validate(facts)
