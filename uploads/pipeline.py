"""The transcode service: claim a video, encode its ladder in one ffmpeg pass, store, publish.

Called by the Celery task (uploads.tasks), the `transcode` command and `seed_demo`. Safe to run
twice: a second run finds the video claimed (fresh heartbeat) or finished and does nothing.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from feed.models import Rendition, Video
from uploads import progress, transcode
from uploads.probe import ProbeError, probe, validate
from uploads.services import topic_for

log = logging.getLogger(__name__)

HEARTBEAT_STALE = timedelta(seconds=45)


def claim_transcode(video_id: int) -> Video | None:
    """Take the video for this worker. None when another live worker has it or it is done.

    A worker that died leaves a stale heartbeat; the re-delivered task then takes over.
    """
    now = timezone.now()
    claimable = Video.objects.filter(pk=video_id, status__in=[Video.Status.UPLOADED, Video.Status.PROCESSING])
    stale = claimable.filter(status=Video.Status.UPLOADED) | claimable.filter(heartbeat_at__lt=now - HEARTBEAT_STALE)
    updated = Video.objects.filter(pk__in=stale.values("pk")).update(
        status=Video.Status.PROCESSING,
        stage="probing",
        progress=0,
        heartbeat_at=now,
        transcode_started_at=now,
        transcode_attempts=F("transcode_attempts") + 1,
    )
    return Video.objects.get(pk=video_id) if updated == 1 else None


def is_busy_elsewhere(video_id: int) -> bool:
    return Video.objects.filter(pk=video_id, status=Video.Status.PROCESSING).exists()


def transcode_video(video_id: int) -> Video | None:
    """Probe, encode the ladder in one ffmpeg pass, store it, mark the video ready (or failed)."""
    video = claim_transcode(video_id)
    if video is None:
        return None
    topic = topic_for(video)
    owner_id = video.owner_id
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"v{video.pk}-", dir=_work_root()))
    try:
        source = workdir / ("source" + Path(video.source_file.name).suffix)
        with video.source_file.open("rb") as src, open(source, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        facts = probe(source)
        validate(facts)
        _emit(video, "processing", 0, None, "Transcoding", stage="transcoding")

        ladder = transcode.plan_ladder(facts.width, facts.height)
        outdir = workdir / "hls"
        plan = transcode.TranscodePlan(
            source=source,
            outdir=outdir,
            ladder=ladder,
            fps=facts.fps,
            has_audio=facts.has_audio,
            trim_start=video.trim_start,
            trim_end=video.trim_end,
            segment_seconds=settings.TRANSCODE_SEGMENT_SECONDS,
        )
        throttle = progress.Throttle(2.0)

        def on_progress(p: transcode.Progress) -> None:
            if throttle.ready():
                _emit(video, "processing", p.fraction * 95, p.eta_s, "Transcoding", stage="transcoding")

        transcode.run(plan, facts.duration, on_progress)
        out_duration = (video.trim_end or facts.duration) - (video.trim_start or 0)
        cover = video.cover_time if video.cover_time is not None else min(1.0, out_duration / 3)
        _, placeholder = transcode.make_poster(source, cover, outdir / "poster.jpg")
        _emit(video, "processing", 97, 1, "Publishing", stage="storing")

        prefix = f"videos/{video.pk}/a{video.transcode_attempts}"
        _store_tree(outdir, prefix)
        with transaction.atomic():
            Rendition.objects.filter(video=video).delete()
            Rendition.objects.bulk_create(
                Rendition(
                    video=video,
                    height=r.name,
                    width=r.width,
                    frame_height=r.height,
                    bitrate=transcode.measured_bitrate(outdir / str(r.name), out_duration),
                    playlist=f"{prefix}/{r.name}/index.m3u8",
                )
                for r in ladder
            )
            now = timezone.now()
            video.status = Video.Status.READY
            video.stage = "ready"
            video.progress = 100
            video.error = ""
            video.duration = round(out_duration, 3)
            video.width, video.height = facts.width, facts.height
            video.has_audio = facts.has_audio
            video.hls_master = f"{prefix}/master.m3u8"
            video.preview_playlist = f"{prefix}/{ladder[0].name}/index.m3u8"
            video.poster = f"{prefix}/poster.jpg"
            video.placeholder = placeholder
            video.transcode_seconds = round(time.monotonic() - started, 2)
            if video.published_at is None and video.visibility != Video.Visibility.PRIVATE:
                video.published_at = now
            video.save()
            progress.publish(
                progress.event(topic, "ready", 100, 0, "Ready", video_id=video.pk, url=video.get_absolute_url()),
                owner_id,
            )
        log.info("video %s ready in %.1fs (%d rungs)", video.pk, video.transcode_seconds, len(ladder))
        return video
    except (ProbeError, transcode.TranscodeError) as exc:
        _fail(video, str(exc), getattr(exc, "log_tail", ""))
        return video
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _emit(video: Video, status: str, pct: float, eta: float | None, message: str, stage: str) -> None:
    Video.objects.filter(pk=video.pk).update(progress=pct, stage=stage, heartbeat_at=timezone.now())
    progress.publish(progress.event(topic_for(video), status, pct, eta, message, stage=stage), video.owner_id)


def _fail(video: Video, reason: str, log_tail: str = "") -> None:
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.FAILED, stage="failed", error=reason, ffmpeg_log=log_tail[-8000:]
    )
    progress.publish(progress.event(topic_for(video), "failed", 0, None, reason), video.owner_id)
    log.warning("video %s failed: %s", video.pk, reason)


def _store_tree(root: Path, prefix: str) -> None:
    """Copy every file under `root` to storage under `prefix`, keeping relative paths."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            name = f"{prefix}/{path.relative_to(root).as_posix()}"
            if default_storage.exists(name):
                default_storage.delete(name)
            with open(path, "rb") as fh:
                default_storage.save(name, File(fh))


def _work_root() -> Path:
    root = Path(settings.WORK_DIR) / "transcode"
    root.mkdir(parents=True, exist_ok=True)
    return root
