"""The one place that knows where ffmpeg and ffprobe are.

System binaries on PATH win (distribution builds are usually newest and fastest); otherwise the
static ffmpeg shipped in the `imageio-ffmpeg` wheel. That wheel has no ffprobe, so callers must
cope with `ffprobe_path()` returning None (uploads.probe parses `ffmpeg -i` instead).
"""

from __future__ import annotations

import functools
import shutil

from django.conf import settings


class FFmpegMissing(RuntimeError):
    pass


@functools.cache
def ffmpeg_path() -> str:
    configured = settings.FFMPEG_BINARY
    if configured:
        found = shutil.which(configured)
        if not found:
            raise FFmpegMissing(f"FFMPEG_BINARY={configured!r} is not an executable")
        return found
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # the wheel raises RuntimeError when its binary is absent for this platform
        raise FFmpegMissing(
            "ffmpeg not found: install it (apt-get install ffmpeg) or `pip install imageio-ffmpeg`"
        ) from None


@functools.cache
def ffprobe_path() -> str | None:
    configured = settings.FFPROBE_BINARY
    if configured:
        return shutil.which(configured)
    return shutil.which("ffprobe")


def describe() -> str:
    probe = ffprobe_path() or "none (parsing ffmpeg -i)"
    return f"ffmpeg={ffmpeg_path()} ffprobe={probe}"
