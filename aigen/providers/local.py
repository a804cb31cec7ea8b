"""`local`: renders a real H.264 clip from the prompt with ffmpeg, so the whole flow runs offline.

It behaves like a remote provider: `create` returns an id, `retrieve` reports progress over a few
seconds (AIGEN_LOCAL_RENDER_SECONDS), `download` renders the MP4. The id carries its start time,
so any worker can answer for it and nothing is kept in memory.
"""

from __future__ import annotations

import hashlib
import subprocess
import textwrap
import time
from pathlib import Path

from django.conf import settings

from aigen.providers.base import Downloaded, Provider, ProviderJob, RefusedError
from uploads.demo import font_file
from uploads.ffbin import ffmpeg_path

PALETTES = [
    ("#ff3d6e", "#2d6cff", "#22e3c4"),
    ("#ffae00", "#ff0055", "#5500ff"),
    ("#0f2027", "#2c5364", "#a8ff78"),
    ("#f7971e", "#ffd200", "#1a2a6c"),
    ("#00c9ff", "#92fe9d", "#fc466b"),
    ("#8e2de2", "#4a00e0", "#f953c6"),
]


def render_seconds() -> float:
    return float(getattr(settings, "AIGEN_LOCAL_RENDER_SECONDS", 4.0))


def scene_for(prompt: str, style: str) -> tuple[str, float, int]:
    """A prompt-seeded lavfi source (colours and motion), hue speed and tone frequency."""
    seed = int.from_bytes(hashlib.sha256(f"{style}|{prompt}".encode()).digest()[:8], "big")
    c0, c1, c2 = PALETTES[seed % len(PALETTES)]
    kind = (seed >> 8) % 3
    if kind == 0:
        speed = 0.01 + ((seed >> 16) % 6) / 100
        source = f"gradients=size={{w}}x{{h}}:rate=30:speed={speed:.2f}:c0={c0}:c1={c1}:c2={c2}:nb_colors=3"
    elif kind == 1:
        source = f"life=size={{w}}x{{h}}:rate=30:mold=20:ratio=0.3:life_color={c0}:death_color={c1}"
    else:
        scale = 0.05 + ((seed >> 20) % 10) / 40
        source = f"mandelbrot=size={{w}}x{{h}}:rate=30:start_scale=2.5:end_scale={scale:.3f}"
    return source, float(5 + (seed >> 24) % 60), 160 + (seed >> 32) % 300


def render(dest: Path, prompt: str, style: str, seconds: int, size: str, tag: str) -> Path:
    width, height = (int(x) for x in size.split("x"))
    source, hue_speed, tone = scene_for(prompt, style)
    # Generators run at a quarter of the size and are scaled up: a 4 s 720x1280 clip takes ~1 s.
    chain = [f"scale={width}:{height}:flags=bicubic", f"hue=h=t*{hue_speed:.0f}", "format=yuv420p"]
    font = font_file()
    if font:
        textfile = dest.parent / "prompt.txt"
        textfile.write_text("\n".join(textwrap.wrap(prompt, 22)[:6]))
        chain.append(
            f"drawtext=fontfile={font}:textfile={textfile}:fontcolor=white:fontsize={width // 14}:"
            f"line_spacing=8:borderw=4:bordercolor=black@0.6:x=(w-text_w)/2:"
            f"y=h*0.38+{height // 24}*sin(t*1.4)"
        )
    lavfi = source.format(w=width // 4, h=height // 4) + "," + ",".join(chain)
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
           "-f", "lavfi", "-i", lavfi,
           "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000,volume=0.2",
           "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-g", "60",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest",
           # The job id in the metadata: two jobs with one prompt must not de-duplicate into one Video.
           "-metadata", f"comment=clipstream {tag}", "-movflags", "+faststart", str(dest)]  # fmt: skip
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        raise RefusedError(f"ffmpeg failed: {exc.stderr.decode(errors='replace')[-300:]}", "render_failed") from None
    return dest


class LocalFFmpeg(Provider):
    name = "local"
    label = "Local (ffmpeg, offline)"
    seconds = (4, 8, 12)
    poll_min = 0.5  # a short local render: follow it closely so progress looks live
    poll_max = 1.0

    @classmethod
    def typical(cls) -> float:
        return render_seconds()

    def create(self, job, prompt: str) -> ProviderJob:
        return ProviderJob(id=f"local-{job.pk.hex[:12]}-{int(time.time() * 1000)}", status="queued")

    def retrieve(self, job) -> ProviderJob:
        started = int(job.provider_job_id.rsplit("-", 1)[1]) / 1000
        fraction = (time.time() - started) / max(render_seconds(), 0.1)
        if fraction >= 1:
            return ProviderJob(id=job.provider_job_id, status="completed", progress=100)
        return ProviderJob(id=job.provider_job_id, status="in_progress", progress=round(100 * fraction, 1))

    def download(self, job, workdir: Path) -> Downloaded:
        dest = render(workdir / "provider.mp4", job.prompt, job.style, job.seconds, job.size, str(job.pk))
        return Downloaded(dest, None)
