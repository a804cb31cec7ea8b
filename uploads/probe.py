"""Look inside a media file before anything is transcoded, and refuse what we will not process.

Two gates: `sniff_container` reads the first bytes (only MP4/MOV/3GP and Matroska/WebM pass, so
an HLS or concat playlist renamed to .mp4 never reaches ffmpeg), then `probe` asks ffprobe (or,
without ffprobe, parses `ffmpeg -i`) with a `file`-only protocol whitelist so no input can make
the demuxer open another file or a URL.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from uploads.ffbin import ffmpeg_path, ffprobe_path

PROBE_TIMEOUT_S = 20
ALLOWED_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"}


class ProbeError(ValueError):
    """The file is not something we accept. `str(exc)` is written for the uploader."""


@dataclass(frozen=True)
class ProbeResult:
    format_name: str
    duration: float
    width: int  # display width, after rotation
    height: int  # display height, after rotation
    rotation: int
    fps: float
    video_codec: str
    has_audio: bool
    bit_rate: int = 0

    @property
    def short_edge(self) -> int:
        return min(self.width, self.height)

    @property
    def is_portrait(self) -> bool:
        return self.height > self.width


def sniff_container(path: Path) -> str:
    """Return 'mp4' or 'matroska' from magic bytes, or raise ProbeError."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head:
        raise ProbeError("The file is empty.")
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.lstrip().startswith(b"#EXTM3U") or head.lstrip().startswith(b"ffconcat"):
        raise ProbeError("This file is a playlist, not a video. Upload an MP4, MOV, WebM or MKV file.")
    raise ProbeError("This is not a video file we can read. Upload an MP4, MOV, WebM or MKV file.")


def probe(path: Path) -> ProbeResult:
    """Describe `path` or raise ProbeError with a message for the uploader."""
    sniff_container(path)
    if ffprobe_path():
        result = _probe_ffprobe(path)
    else:
        result = _probe_ffmpeg(path)
    if not any(part in ALLOWED_FORMATS for part in result.format_name.split(",")):
        raise ProbeError(f"Unsupported container ({result.format_name}).")
    return result


def validate(result: ProbeResult) -> None:
    """Apply the product's limits (settings) to a probe result."""
    if not result.video_codec:
        raise ProbeError("This file has no video track (is it audio only?).")
    if result.duration <= 0:
        raise ProbeError("We could not read the video's length; the file may be truncated.")
    if result.duration < settings.UPLOAD_MIN_SECONDS:
        raise ProbeError(f"The video is too short: at least {settings.UPLOAD_MIN_SECONDS:g} s.")
    if result.duration > settings.UPLOAD_MAX_SECONDS + 0.5:
        raise ProbeError(
            f"The video is {result.duration:.0f} s long; the limit is {settings.UPLOAD_MAX_SECONDS:g} s. "
            "Trim it and try again."
        )
    if result.width < 64 or result.height < 64:
        raise ProbeError("The video is too small (under 64 px).")
    if result.width * result.height > settings.UPLOAD_MAX_PIXELS:
        raise ProbeError(f"The resolution {result.width}x{result.height} is too large; 4K is the maximum.")
    if result.fps > settings.UPLOAD_MAX_FPS + 0.5:
        raise ProbeError(f"{result.fps:.0f} fps is more than we accept ({settings.UPLOAD_MAX_FPS:g} fps).")


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProbeError("Reading the file took too long; it may be damaged.") from None


def _parse_rate(rate: str | None) -> float:
    if not rate or rate in ("0/0", "0"):
        return 0.0
    if "/" in rate:
        num, den = rate.split("/", 1)
        return float(num) / float(den) if float(den) else 0.0
    return float(rate)


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate else 0


def _probe_ffprobe(path: Path) -> ProbeResult:
    cmd = [
        ffprobe_path(), "-v", "error", "-protocol_whitelist", "file",
        "-print_format", "json", "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    proc = _run(cmd)
    if proc.returncode != 0:
        raise ProbeError("This video file is damaged or incomplete and cannot be read.")
    try:
        data = json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError:
        raise ProbeError("This video file is damaged or incomplete and cannot be read.") from None
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        return ProbeResult(fmt.get("format_name", ""), float(fmt.get("duration") or 0), 0, 0, 0, 0.0, "", bool(audio))
    rotation = _rotation(video)
    w, h = int(video.get("width") or 0), int(video.get("height") or 0)
    if rotation in (90, 270):
        w, h = h, w
    duration = float(fmt.get("duration") or video.get("duration") or 0)
    fps = _parse_rate(video.get("avg_frame_rate")) or _parse_rate(video.get("r_frame_rate"))
    return ProbeResult(
        format_name=fmt.get("format_name", ""),
        duration=duration,
        width=w,
        height=h,
        rotation=rotation,
        fps=fps,
        video_codec=video.get("codec_name", ""),
        has_audio=audio is not None,
        bit_rate=int(fmt.get("bit_rate") or 0),
    )


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_INPUT = re.compile(r"Input #0, ([\w,]+), from")
_VIDEO = re.compile(r"Stream #0:\d+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"([\d.]+) fps")
_ROTATE = re.compile(r"(?:rotation of (-?[\d.]+) degrees|rotate\s*:\s*(-?\d+))")


def _probe_ffmpeg(path: Path) -> ProbeResult:
    """Fallback for the imageio-ffmpeg wheel, which ships no ffprobe: parse `ffmpeg -i`."""
    proc = _run([ffmpeg_path(), "-hide_banner", "-nostdin", "-protocol_whitelist", "file", "-i", str(path)])
    err = proc.stderr.decode("utf-8", "replace")
    fmt = _INPUT.search(err)
    if not fmt:
        raise ProbeError("This video file is damaged or incomplete and cannot be read.")
    dur = _DURATION.search(err)
    duration = int(dur[1]) * 3600 + int(dur[2]) * 60 + float(dur[3]) if dur else 0.0
    video_lines = [line for line in err.splitlines() if "Video:" in line and "attached pic" not in line]
    has_audio = "Audio:" in err
    if not video_lines:
        return ProbeResult(fmt[1], duration, 0, 0, 0, 0.0, "", has_audio)
    vm = _VIDEO.search(video_lines[0])
    if not vm:
        raise ProbeError("This video file is damaged or incomplete and cannot be read.")
    w, h = int(vm[2]), int(vm[3])
    fps_match = _FPS.search(video_lines[0])
    rot_match = _ROTATE.search(err)
    rotation = 0
    if rot_match:
        rotation = int(round(float(rot_match[1] or rot_match[2]))) % 360
    if rotation in (90, 270):
        w, h = h, w
    return ProbeResult(
        format_name=fmt[1],
        duration=duration,
        width=w,
        height=h,
        rotation=rotation,
        fps=float(fps_match[1]) if fps_match else 0.0,
        video_codec=vm[1],
        has_audio=has_audio,
    )
