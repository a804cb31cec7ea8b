"""Ingest: the one home of turning an uploaded file into a Video waiting for its transcode.

Views (multipart and resumable), management commands and the AI pipeline all call `ingest()`.
The transcode itself lives in uploads.pipeline.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

from feed.models import Video
from feed.services import set_caption
from uploads import progress
from uploads.probe import ProbeError, ProbeResult, probe, validate

log = logging.getLogger(__name__)

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
