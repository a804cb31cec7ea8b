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
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from feed.models import Rendition, Video
from uploads import hls, progress, transcode
from uploads.preview import PreviewPublisher
from uploads.probe import ProbeError, probe, validate
from uploads.services import topic_for
from uploads.storage import delete_tree, save_file

log = logging.getLogger(__name__)


def heartbeat_stale() -> timedelta:
    """How old a running transcode's heartbeat may get before another worker takes the video."""
    return timedelta(seconds=settings.TRANSCODE_HEARTBEAT_STALE_SECONDS)


def claim_transcode(video_id: int) -> Video | None:
    """Take the video for this worker. None when another live worker has it or it is done.

    A worker that died leaves a stale heartbeat; the re-delivered task then takes over. Each
    claim bumps `transcode_attempts`, which names the attempt's storage folder and is checked
    again before publishing, so two workers can never both publish a ladder.
    """
    now = timezone.now()
    claimable = Video.objects.filter(pk=video_id, status__in=[Video.Status.UPLOADED, Video.Status.PROCESSING])
    stale = claimable.filter(status=Video.Status.UPLOADED) | claimable.filter(heartbeat_at__lt=now - heartbeat_stale())
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
    """Probe, encode the ladder in one ffmpeg pass, store it, mark the video ready (or failed).

    While ffmpeg runs, the lowest rung is copied to storage as it grows (uploads.preview) and the
    uploader hears `preview_url` on the video's topic as soon as its first segment is stored.
    """
    video = claim_transcode(video_id)
    if video is None:
        return None
    attempt = video.transcode_attempts
    prefix = f"videos/{video.pk}/a{attempt}"
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
        lowest = ladder[0].name
        preview = PreviewPublisher(default_storage, outdir / str(lowest), f"{prefix}/{lowest}")
        throttle = progress.Throttle(2.0)

        def on_progress(p: transcode.Progress) -> None:
            try:
                if preview.poll():
                    _announce_preview(video, preview.playlist_name, p)
            except OSError:  # storage trouble: the preview is a bonus, the ladder still gets stored
                log.warning("video %s: preview copy failed", video.pk, exc_info=True)
            if throttle.ready():
                _emit(video, "processing", p.fraction * 95, p.eta_s, "Transcoding", stage="transcoding")

        transcode.run(plan, facts.duration, on_progress)
        stats = hls.finalize(outdir, ladder, plan.out_fps)
        out_duration = (video.trim_end or facts.duration) - (video.trim_start or 0)
        cover = video.cover_time if video.cover_time is not None else min(1.0, out_duration / 3)
        _, placeholder = transcode.make_poster(source, cover, outdir / "poster.jpg")
        _emit(video, "processing", 97, 1, "Publishing", stage="storing")
        _store_tree(video, outdir, prefix, skip=preview.stored)

        with transaction.atomic():
            current = Video.objects.select_for_update().get(pk=video.pk)
            if current.transcode_attempts != attempt or current.status != Video.Status.PROCESSING:
                # Another worker took over (our heartbeat went stale): its ladder wins, ours goes.
                log.warning("video %s: attempt %s lost its claim; discarding its output", video.pk, attempt)
                transaction.on_commit(lambda: delete_tree(default_storage, prefix))
                return None
            Rendition.objects.filter(video=video).delete()
            Rendition.objects.bulk_create(
                Rendition(
                    video=video,
                    height=s.name,
                    width=s.width,
                    frame_height=s.height,
                    bitrate=s.average_bps,
                    playlist=f"{prefix}/{s.name}/{hls.PLAYLIST}",
                    codecs=s.codecs,
                )
                for s in stats
            )
            video.status = Video.Status.READY
            video.stage = "ready"
            video.progress = 100
            video.error = ""
            video.ffmpeg_log = ""
            video.duration = round(out_duration, 3)
            video.width, video.height = facts.width, facts.height
            video.has_audio = facts.has_audio
            video.hls_master = f"{prefix}/{hls.MASTER}"
            video.preview_playlist = preview.playlist_name
            video.poster = f"{prefix}/poster.jpg"
            video.placeholder = placeholder
            video.transcode_seconds = round(time.monotonic() - started, 2)
            fields = [
                "status", "stage", "progress", "error", "ffmpeg_log", "duration", "width", "height",
                "has_audio", "hls_master", "preview_playlist", "poster", "placeholder", "transcode_seconds",
            ]  # fmt: skip
            if current.published_at is None and current.visibility != Video.Visibility.PRIVATE:
                video.published_at = timezone.now()
                fields.append("published_at")
            # Only our fields: a caption edit or a moderator's action meanwhile must survive.
            video.save(update_fields=fields)
            progress.publish(
                progress.event(
                    topic_for(video), "ready", 100, 0, "Ready", video_id=video.pk, url=video.get_absolute_url(),
                    preview_url=default_storage.url(video.preview_playlist),
                    master_url=default_storage.url(video.hls_master),
                ),
                video.owner_id,
            )  # fmt: skip
            transaction.on_commit(lambda: _delete_earlier_attempts(video.pk, attempt))
        log.info("video %s ready in %.1fs (%d rungs)", video.pk, video.transcode_seconds, len(ladder))
        return video
    except (ProbeError, transcode.TranscodeError, hls.PlaylistError) as exc:
        _fail(video, attempt, str(exc), getattr(exc, "log_tail", ""))
        return video
    except Exception:
        # Not the video's fault (storage, database): release the claim so the task's retry can
        # take it at once instead of waiting for the heartbeat to go stale.
        Video.objects.filter(pk=video.pk, transcode_attempts=attempt, status=Video.Status.PROCESSING).update(
            status=Video.Status.UPLOADED, stage="queued"
        )
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _announce_preview(video: Video, playlist: str, p: transcode.Progress) -> None:
    Video.objects.filter(pk=video.pk).update(preview_playlist=playlist, heartbeat_at=timezone.now())
    progress.publish(
        progress.event(
            topic_for(video), "processing", p.fraction * 95, p.eta_s, "Preview ready", stage="transcoding",
            video_id=video.pk, preview_url=default_storage.url(playlist),
        ),
        video.owner_id,
    )  # fmt: skip


def _emit(video: Video, status: str, pct: float, eta: float | None, message: str, stage: str) -> None:
    Video.objects.filter(pk=video.pk).update(progress=pct, stage=stage, heartbeat_at=timezone.now())
    progress.publish(progress.event(topic_for(video), status, pct, eta, message, stage=stage), video.owner_id)


def _fail(video: Video, attempt: int, reason: str, log_tail: str = "") -> None:
    Video.objects.filter(pk=video.pk, transcode_attempts=attempt).update(
        status=Video.Status.FAILED, stage="failed", error=reason, ffmpeg_log=log_tail[-8000:]
    )
    progress.publish(progress.event(topic_for(video), "failed", 0, None, reason), video.owner_id)
    log.warning("video %s failed: %s", video.pk, reason)


def give_up(video_id: int, reason: str) -> None:
    """Retries are spent (storage or database kept failing): tell the uploader instead of hanging."""
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return
    updated = Video.objects.filter(pk=video_id, status__in=[Video.Status.UPLOADED, Video.Status.PROCESSING]).update(
        status=Video.Status.FAILED, stage="failed", error=reason
    )
    if updated:
        progress.publish(progress.event(topic_for(video), "failed", 0, None, reason), video.owner_id)
        log.error("video %s: gave up after retries: %s", video_id, reason)


def _store_order(path: Path) -> tuple[int, str]:
    # Media first, then rung playlists, the master last: whoever can read a playlist finds
    # every file it names.
    rank = 2 if path.name == hls.MASTER else 1 if path.suffix == ".m3u8" else 0
    return rank, path.as_posix()


def _store_tree(video: Video, root: Path, prefix: str, skip: set[str]) -> None:
    """Copy every file under `root` to storage under `prefix`, except names already stored."""
    last_beat = time.monotonic()
    for path in sorted((p for p in root.rglob("*") if p.is_file()), key=_store_order):
        name = f"{prefix}/{path.relative_to(root).as_posix()}"
        if name in skip or path.suffix == ".tmp":
            continue
        save_file(default_storage, name, path)
        if time.monotonic() - last_beat > 5:  # a slow bucket must not look like a dead worker
            Video.objects.filter(pk=video.pk).update(heartbeat_at=timezone.now())
            last_beat = time.monotonic()


def _delete_earlier_attempts(video_id: int, attempt: int) -> None:
    """Output of attempts that crashed or were retried is referenced by nothing any more."""
    for earlier in range(1, attempt):
        delete_tree(default_storage, f"videos/{video_id}/a{earlier}")


def _work_root() -> Path:
    root = Path(settings.WORK_DIR) / "transcode"
    root.mkdir(parents=True, exist_ok=True)
    return root
