"""Render demo clips with ffmpeg: portrait 1080x1920, 30 fps, varied colour, motion, text and sound.

Used by `seed_demo` and by tests that need a real phone-like source. Generators run at a quarter
of the size and are scaled up, so a 20 s clip renders in a few seconds on two cores.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from uploads.ffbin import ffmpeg_path

FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
]

# (lavfi generator at 270x480, hue speed, caption)
SCENES = [
    ("mandelbrot=size=270x480:rate=30:start_scale=3:end_scale=0.3", 20, "Falling into the fractal #math #zoom"),
    (
        "life=size=270x480:rate=30:mold=10:ratio=0.4:death_color=#1b1b3a:life_color=#ffcc00",
        45,
        "Conway's life at rush hour #cellular #satisfying",
    ),
    ("testsrc2=size=270x480:rate=30", 60, "Every colour check, in portrait #test #colors"),
    (
        "gradients=size=270x480:rate=30:speed=0.02:c0=#ff3d6e:c1=#2d6cff:c2=#22e3c4:nb_colors=3",
        15,
        "Slow gradient mood #chill #ambient",
    ),
    ("cellauto=size=270x480:rate=30:rule=110", 30, "Rule 110 is Turing complete #science #pattern"),
    ("smptehdbars=size=270x480:rate=30", 90, "Colour bars, but make it dance #retro #tv"),
    (
        "mandelbrot=size=270x480:rate=30:start_x=-0.743643887:start_y=0.131825904:start_scale=2:end_scale=0.01",
        10,
        "Seahorse valley dive #fractal #deepzoom",
    ),
    (
        "life=size=270x480:rate=30:mold=25:ratio=0.2:life_color=#22e3c4:death_color=#330033",
        70,
        "Glow colony #generative #loop",
    ),
    (
        "gradients=size=270x480:rate=30:speed=0.05:c0=#ffae00:c1=#ff0055:c2=#5500ff:c3=#00ffaa:nb_colors=4",
        25,
        "Sunset in four colours #sunset #vibes",
    ),
    ("testsrc=size=270x480:rate=30", 120, "Counting frames like it is 1999 #nostalgia #tv"),
    ("cellauto=size=270x480:rate=30:rule=30:random_fill_ratio=0.5", 50, "Rule 30 rain #chaos #pattern"),
    (
        "mandelbrot=size=270x480:rate=30:inner=convergence:start_scale=1.5:end_scale=0.05",
        35,
        "Convergence bloom #math #art",
    ),
]


@functools.cache
def font_file() -> str | None:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return None


def _escape(text: str) -> str:
    # drawtext quoting is fiddly; a typographic apostrophe avoids it entirely.
    return text.replace("\\", "").replace(":", r"\:").replace("'", "\u2019").replace("%", r"\%")


def render_clip(
    dest: Path,
    index: int,
    seconds: float = 16.0,
    width: int = 1080,
    height: int = 1920,
    fps: int = 30,
    audio: bool = True,
) -> tuple[Path, str]:
    """Render scene `index` (cycled) to `dest`; return (path, caption)."""
    source, hue_speed, caption = SCENES[index % len(SCENES)]
    chain = [f"scale={width}:{height}:flags=bicubic", f"hue=h=t*{hue_speed}", "format=yuv420p"]
    font = font_file()
    if font:
        title = _escape(caption.split(" #")[0])
        chain.append(
            f"drawtext=fontfile={font}:text='{title}':fontcolor=white:fontsize={width // 16}:"
            f"borderw=4:bordercolor=black@0.6:x=(w-text_w)/2:y=h*0.42+{height // 20}*sin(t*1.3)"
        )
        chain.append(
            f"drawtext=fontfile={font}:text='clip {index + 1}  %{{pts\\:hms}}':fontcolor=white@0.8:"
            f"fontsize={width // 30}:x=40:y=h-{height // 8}"
        )
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
           "-f", "lavfi", "-i", f"{source},{','.join(chain)}"]  # fmt: skip
    if audio:
        base = 180 + 40 * (index % 7)
        cmd += ["-f", "lavfi", "-i",
                f"sine=frequency={base}:sample_rate=48000,volume=0.25[a0];"
                f"sine=frequency={base * 1.5:.0f}:sample_rate=48000:beep_factor=2,volume=0.15[a1];"
                "[a0][a1]amix=inputs=2"]  # fmt: skip
    # Capped so that even a noisy 20 s scene stays well under the 50 MB upload limit.
    cmd += ["-t", f"{seconds:.2f}", "-r", str(fps), "-c:v", "libx264", "-preset", "superfast", "-crf", "21",
            "-maxrate", "16M", "-bufsize", "32M", "-g", str(fps * 2), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart"]  # fmt: skip
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "128k", "-shortest"]
    cmd.append(str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return dest, caption
