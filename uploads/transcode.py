"""The transcode pipeline: one ffmpeg process decodes once and encodes the whole HLS ladder.

Pure functions of (source facts, settings) → ffmpeg command, plus a runner that parses
`-progress` output. Nothing here touches the database or storage; uploads.services does.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from uploads.ffbin import ffmpeg_path

log = logging.getLogger(__name__)

FPS_CAP = 60


@dataclass(frozen=True)
class RungSpec:
    """How one rung is encoded. CRF keeps simple scenes well under the cap; the cap (kb/s) bounds
    what a 3G viewer must download."""

    maxrate_k: int
    audio_k: int
    crf: int
    preset: str
    x264_params: str = ""
    # One second of buffer: with two, x264 bursts well past the cap at the start of a clip and
    # 2 s segments peak near twice maxrate, which is what BANDWIDTH must then advertise.
    bufsize_k: int = 0  # 0: same as maxrate_k

    @property
    def vbv_bufsize_k(self) -> int:
        return self.bufsize_k or self.maxrate_k


# Tuned with bench/transcode_bench.py on 2 cores (docs/transcode-benchmark.md). The 1080p rung is
# where the seconds go: x264's ultrafast with CABAC and 8x8 transforms turned back on costs little
# CPU, keeps the stream High profile (plain ultrafast is Constrained Baseline) and buys back the
# quality; the small rungs are cheap, so they get superfast.
RUNG_SPECS = {
    360: RungSpec(550, 64, 23, "superfast"),
    540: RungSpec(1400, 96, 23, "superfast"),
    720: RungSpec(2500, 128, 23, "superfast"),
    1080: RungSpec(4800, 128, 23, "ultrafast", "cabac=1:8x8dct=1"),
}


class TranscodeError(RuntimeError):
    def __init__(self, message: str, log_tail: str = ""):
        super().__init__(message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class Rung:
    name: int  # short edge: 360, 540, 720, 1080
    width: int
    height: int
    spec: RungSpec

    @property
    def maxrate_k(self) -> int:
        return self.spec.maxrate_k

    @property
    def audio_k(self) -> int:
        return self.spec.audio_k

    @property
    def bandwidth(self) -> int:
        return (self.maxrate_k + self.audio_k) * 1000


def _even(x: float) -> int:
    # Down to even (4:2:0 needs it), never up: a rung is never larger than its source.
    return max(2, int(x + 1e-6) // 2 * 2)


def _spec_for(short_edge: int, specs: dict[int, RungSpec]) -> RungSpec:
    for name in sorted(specs):
        if short_edge <= name:
            return specs[name]
    return specs[max(specs)]


def plan_ladder(
    width: int, height: int, rungs: list[int] | None = None, specs: dict[int, RungSpec] | None = None
) -> list[Rung]:
    """Rungs by short edge, never upscaling; a source smaller than every rung gets one at its size.

    `width`/`height` are display dimensions (after rotation), so portrait stays portrait.
    """
    rungs = sorted(rungs or settings.TRANSCODE_RUNGS)
    specs = specs or RUNG_SPECS
    short, long_ = min(width, height), max(width, height)
    chosen = [r for r in rungs if r <= short] or [_even(short)]
    ladder = []
    for name in chosen:
        scaled_long = _even(long_ * name / short)
        w, h = (name, scaled_long) if height >= width else (scaled_long, name)
        ladder.append(Rung(name, _even(w), _even(h), _spec_for(name, specs)))
    return ladder


@dataclass
class TranscodePlan:
    source: Path
    outdir: Path
    ladder: list[Rung]
    fps: float
    has_audio: bool
    trim_start: float | None = None
    trim_end: float | None = None
    segment_seconds: int = 2
    extra_input_args: list[str] = field(default_factory=list)

    @property
    def out_fps(self) -> float:
        return min(self.fps or 30.0, FPS_CAP)

    @property
    def gop(self) -> int:
        return max(1, int(round(self.out_fps * self.segment_seconds)))

    def command(self) -> list[str]:
        n = len(self.ladder)
        cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        cmd += ["-protocol_whitelist", "file,pipe"]
        if self.trim_start:
            cmd += ["-ss", f"{self.trim_start:.3f}"]
        if self.trim_end:
            cmd += ["-to", f"{self.trim_end:.3f}"]
        cmd += [*self.extra_input_args, "-i", str(self.source)]

        # Decode once; normalise frame rate and pixel format once; split to every rung.
        pre = []
        if (self.fps or 0) > FPS_CAP + 0.5:
            pre.append(f"fps={FPS_CAP}")
        pre.append("format=yuv420p")
        labels = "".join(f"[s{i}]" for i in range(n))
        graph = [f"[0:v:0]{','.join(pre)},split={n}{labels}" if n > 1 else f"[0:v:0]{','.join(pre)}[s0]"]
        for i, rung in enumerate(self.ladder):
            graph.append(f"[s{i}]scale={rung.width}:{rung.height}:flags=bicubic,setsar=1[v{i}]")
        cmd += ["-filter_complex", ";".join(graph)]

        for i in range(n):
            cmd += ["-map", f"[v{i}]"]
            if self.has_audio:
                cmd += ["-map", "0:a:0"]
        gop = str(self.gop)
        cmd += [
            "-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-r", f"{self.out_fps:g}",
        ]  # fmt: skip
        if settings.TRANSCODE_THREADS:
            cmd += ["-threads", str(settings.TRANSCODE_THREADS)]
        for i, rung in enumerate(self.ladder):
            cmd += [
                f"-preset:v:{i}", rung.spec.preset,
                f"-crf:v:{i}", str(rung.spec.crf),
                f"-maxrate:v:{i}", f"{rung.maxrate_k}k",
                f"-bufsize:v:{i}", f"{rung.spec.vbv_bufsize_k}k",
            ]  # fmt: skip
            if rung.spec.x264_params:
                cmd += [f"-x264-params:v:{i}", rung.spec.x264_params]
        if self.has_audio:
            # Whatever the phone recorded (mono, 44.1 kHz, 5.1) plays as AAC stereo 48 kHz.
            cmd += ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
            for i, rung in enumerate(self.ladder):
                cmd += [f"-b:a:{i}", f"{rung.audio_k}k"]
            stream_map = " ".join(f"v:{i},a:{i},name:{r.name}" for i, r in enumerate(self.ladder))
        else:
            stream_map = " ".join(f"v:{i},name:{r.name}" for i, r in enumerate(self.ladder))
        # EVENT while encoding: ffmpeg rewrites an EVENT playlist after every segment (a VOD one only
        # at the end), which is what lets the preview go out early. hls.finalize() turns them VOD.
        # temp_file: a playlist is renamed into place, so a reader never sees half of one.
        cmd += [
            "-f", "hls",
            "-hls_time", str(self.segment_seconds),
            "-hls_playlist_type", "event",
            "-hls_segment_type", "fmp4",
            "-hls_fmp4_init_filename", "init.mp4",
            "-hls_flags", "independent_segments+temp_file",
            "-hls_segment_filename", str(self.outdir / "%v" / "seg_%04d.m4s"),
            "-master_pl_name", "master.m3u8",
            "-var_stream_map", stream_map,
            "-progress", "pipe:1", "-stats_period", "0.5",
            str(self.outdir / "%v" / "index.m3u8"),
        ]  # fmt: skip
        return cmd


@dataclass
class Progress:
    fraction: float
    eta_s: float | None
    speed: float | None


ProgressCallback = Callable[[Progress], None]


def run(
    plan: TranscodePlan, duration: float, on_progress: ProgressCallback | None = None, timeout: float = 900
) -> float:
    """Run the plan; return wall seconds. Raises TranscodeError with the log tail on failure.

    `on_progress` runs on this thread about twice a second (ffmpeg's `-stats_period`), so it may
    touch the database and storage; it must stay short, ffmpeg waits while its pipe is full.
    """
    plan.outdir.mkdir(parents=True, exist_ok=True)
    for rung in plan.ladder:
        (plan.outdir / str(rung.name)).mkdir(exist_ok=True)
    cmd = plan.command()
    log.debug("transcode: %s", " ".join(cmd))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    stderr_tail: deque[str] = deque(maxlen=40)

    def drain_stderr() -> None:
        for line in proc.stderr:
            stderr_tail.append(line.rstrip())

    drain = threading.Thread(target=drain_stderr, daemon=True)
    drain.start()
    effective = max(duration - (plan.trim_start or 0), 0.1)
    if plan.trim_end:
        effective = max(min(plan.trim_end, duration) - (plan.trim_start or 0), 0.1)
    timed_out = False
    try:
        block: dict[str, str] = {}
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            block[key] = value
            if key != "progress":
                continue
            out_us = _to_int(block.get("out_time_us") or block.get("out_time_ms"))
            fraction = min(max(out_us / 1e6 / effective, 0.0), 1.0) if out_us else 0.0
            elapsed = time.monotonic() - started
            eta = elapsed * (1 - fraction) / fraction if fraction > 0.02 else None
            speed = _to_float(block.get("speed", "").rstrip("x"))
            block = {}
            if elapsed > timeout:
                timed_out = True
                proc.kill()
                break
            if on_progress:
                on_progress(Progress(fraction, eta, speed))
    except BaseException:
        proc.kill()  # our callback failed: never leave an encoder running behind us
        raise
    finally:
        proc.wait()
        drain.join(timeout=5)
    wall = time.monotonic() - started
    if timed_out:
        raise TranscodeError("Converting the video took too long.", "\n".join(stderr_tail))
    if proc.returncode != 0:
        tail = "\n".join(stderr_tail)
        raise TranscodeError("The video could not be converted (the encoder stopped with an error).", tail)
    return wall


def _to_int(value: str | None) -> int:
    try:
        return int(value) if value and value != "N/A" else 0
    except ValueError:
        return 0


def _to_float(value: str | None) -> float | None:
    try:
        return float(value) if value and value != "N/A" else None
    except ValueError:
        return None


def make_poster(source: Path, at: float, dest: Path, short_edge: int = 720) -> tuple[Path, str]:
    """Write a poster JPEG and return it with a tiny blurred placeholder as a data URI."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    scale = f"scale='if(gt(iw,ih),-2,{short_edge})':'if(gt(iw,ih),{short_edge},-2)'"
    base = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-protocol_whitelist", "file"]
    subprocess.run(
        [*base, "-ss", f"{at:.3f}", "-i", str(source), "-frames:v", "1", "-vf", scale, "-q:v", "4", str(dest)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    tiny = subprocess.run(
        [*base, "-i", str(dest), "-vf", "scale=12:-2", "-q:v", "10", "-f", "mjpeg", "pipe:1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return dest, "data:image/jpeg;base64," + base64.b64encode(tiny.stdout).decode()
