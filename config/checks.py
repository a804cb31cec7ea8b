"""System checks: bad configuration fails at start-up with one clear line."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register(deploy=True)
def check_secret_key(app_configs, **kwargs):
    if settings.SECRET_KEY.startswith("dev-insecure"):
        return [Error("SECRET_KEY is the development key; set SECRET_KEY in the environment.", id="clipstream.E001")]
    return []


@register()
def check_ffmpeg(app_configs, **kwargs):
    from uploads.ffbin import FFmpegMissing, ffmpeg_path

    try:
        ffmpeg_path()
    except FFmpegMissing as exc:
        return [Error(str(exc), id="clipstream.E002")]
    return []


@register()
def check_rungs(app_configs, **kwargs):
    bad = [r for r in settings.TRANSCODE_RUNGS if r < 144 or r > 2160 or r % 2]
    if bad or not settings.TRANSCODE_RUNGS:
        return [Error(f"TRANSCODE_RUNGS has invalid heights {bad or '(empty)'}", id="clipstream.E003")]
    if not 3 <= settings.PLAYER_POOL_SIZE <= 5:
        return [Warning("PLAYER_POOL_SIZE should be 3 to 5; it is clamped.", id="clipstream.W001")]
    return []
