"""Ingest and transcode: the one home of turning a file into a playable feed Video.

Views (multipart and resumable), management commands and the AI pipeline all call `ingest()`;
the Celery task and the `transcode` command call `transcode_video()`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from feed.models import Rendition, Video
from feed.services import set_caption
from uploads import progress, transcode
from uploads.probe import ProbeError, ProbeResult, probe, validate

log = logging.getLogger(__name__)

HEARTBEAT_STALE = timedelta(seconds=45)
SOURCE_SUFFIXES = {"mp4": ".mp4", "matroska": ".mkv"}


class IngestError(ValueError):
    """Refused input. `str(exc)` is for the uploader; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class IngestOptions:
    caption: str = ""
    visibility: str = Video.Visibility.PUBLIC
    source_kind: str = Video.SourceKind.UPLOAD
    trim_start: float | None = None
    trim_end: float | None = None
    cover_time: float | None = None
    enforce_limits: bool = True
    queue_transcode: bool = True  # False: the caller runs transcode_video() itself (seed, --inline)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def topic_for(video: Video) -> str:
    return f"upload:{video.pk}"


def check_can_upload(owner) -> None:
    """One video in processing per user: a second one waits (the uploader sees why)."""
    busy = Video.objects.filter(owner=owner, status__in=[Video.Status.UPLOADED, Video.Status.PROCESSING]).exclude(
        source_kind=Video.SourceKind.AI
    )
    if busy.exists():
        raise IngestError("Your previous video is still processing. Upload the next one when it is ready.", 409)


def ingest(owner, path: Path, filename: str, options: IngestOptions | None = None) -> Video:
    """Validate the local file at `path`, store it, create the Video and queue its transcode.

    The same file uploaded twice by the same owner returns the first Video. Raises IngestError.
    """
    options = options or IngestOptions()
    size = path.stat().st_size
    if size == 0:
        raise IngestError("The file is empty.")
    if size > settings.UPLOAD_MAX_BYTES:
        raise IngestError(f"The file is larger than {settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB.", 413)
    try:
        facts = probe(path)
        validate(facts)
    except ProbeError as exc:
        raise IngestError(str(exc)) from None
    _check_trim(options, facts)

    digest = sha256_of(path)
    existing = Video.objects.filter(owner=owner, source_sha256=digest).first()
    if existing is not None:
        return existing
    if options.enforce_limits:
        check_can_upload(owner)

    suffix = SOURCE_SUFFIXES["matroska" if "matroska" in facts.format_name else "mp4"]
    try:
        with transaction.atomic():
            video = Video.objects.create(
                owner=owner,
                visibility=options.visibility,
                source_kind=options.source_kind,
                source_name=Path(filename).name[:255],
                source_size=size,
                source_sha256=digest,
                duration=facts.duration,
                width=facts.width,
                height=facts.height,
                has_audio=facts.has_audio,
                trim_start=options.trim_start,
                trim_end=options.trim_end,
                cover_time=options.cover_time,
                stage="queued",
            )
            set_caption(video, options.caption)
            with open(path, "rb") as fh:
                video.source_file.save(f"{owner.pk}/{digest[:32]}{suffix}", File(fh), save=False)
            video.save(update_fields=["source_file"])
            if options.queue_transcode:
                _queue_transcode(video)
    except IntegrityError:
        # A concurrent upload of the same bytes won the unique constraint: return its video.
        return Video.objects.get(owner=owner, source_sha256=digest)
    progress.publish(progress.event(topic_for(video), "uploaded", 0, message="Waiting for a transcoder"), owner.pk)
    return video


def _check_trim(options: IngestOptions, facts: ProbeResult) -> None:
    start, end = options.trim_start, options.trim_end
    if start is not None and (start < 0 or start >= facts.duration):
        raise IngestError("The trim start is outside the video.")
    if end is not None and (end <= (start or 0) or end > facts.duration + 0.5):
        raise IngestError("The trim end must be after the start and inside the video.")
    length = (end or facts.duration) - (start or 0)
    if length < settings.UPLOAD_MIN_SECONDS:
        raise IngestError(f"The trimmed video is shorter than {settings.UPLOAD_MIN_SECONDS:g} s.")
    if options.cover_time is not None and not 0 <= options.cover_time <= facts.duration:
        raise IngestError("The cover time is outside the video.")


def _queue_transcode(video: Video) -> None:
    from uploads.tasks import transcode_task

    transaction.on_commit(lambda: transcode_task.delay(video.pk))


def requeue_transcode(video: Video, queue: bool = True) -> None:
    """Admin/command 'retry': reset a failed or finished video and transcode it again."""
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.UPLOADED, stage="queued", progress=0, error="", heartbeat_at=None
    )
    if queue:
        _queue_transcode(video)


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


def snapshot(user, key: str) -> dict | None:
    """Current state of `upload:<key>` for its owner (the websocket's first message)."""
    video = Video.objects.filter(pk=int(key), owner=user).first()
    if video is None:
        return None
    extra = {"video_id": video.pk, "stage": video.stage}
    if video.status == Video.Status.READY:
        extra["url"] = video.get_absolute_url()
    message = video.error if video.status == Video.Status.FAILED else video.stage.capitalize()
    return progress.event(topic_for(video), video.status, video.progress, None, message, **extra)
