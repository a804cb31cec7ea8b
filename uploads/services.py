"""Ingest: the one home of turning an uploaded file into a Video waiting for its transcode.

Views (multipart and resumable), management commands and the AI pipeline all call `ingest()`.
The transcode itself lives in uploads.pipeline.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from feed.models import Video
from feed.services import set_caption
from uploads import progress
from uploads.models import Upload
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
    if video.preview_playlist:
        extra["preview_url"] = default_storage.url(video.preview_playlist)
    if video.poster:
        extra["poster_url"] = video.poster_url
    message = video.error if video.status == Video.Status.FAILED else video.stage.capitalize()
    return progress.event(topic_for(video), video.status, video.progress, None, message, **extra)


# --- The upload paths (multipart form, tus, S3) share these ------------------------------------------

FILENAME_MAX = 200


def clean_filename(name: str) -> str:
    """The uploader's file name as a display label: no directories, no control characters.

    Browsers send only a base name; anything with path parts came from a crafted client, and
    the stored file is named by its hash anyway, so we keep just the last component.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", ".."):
        raise IngestError("The file name is not valid. Rename the file and try again.")
    stem, dot, ext = name.rpartition(".")
    if len(name) > FILENAME_MAX:
        name = (stem[: FILENAME_MAX - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:FILENAME_MAX]
    return name


def _seconds(data: Mapping[str, str], key: str, label: str) -> float | None:
    raw = (data.get(key) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise IngestError(f"The {label} must be a number of seconds.")
    if value != value or value < 0 or value > 3600:  # NaN or absurd
        raise IngestError(f"The {label} must be a number of seconds.")
    return round(value, 3)


def parse_options(data: Mapping[str, str]) -> IngestOptions:
    """Form fields or tus/S3 metadata (caption, visibility, trim_start, trim_end, cover_time)."""
    visibility = (data.get("visibility") or Video.Visibility.PUBLIC).strip()
    if visibility not in Video.Visibility.values:
        raise IngestError("Choose who can see the video: public, unlisted or private.")
    caption = data.get("caption") or ""
    if len(caption) > 2200:
        raise IngestError("The caption is too long (2,200 characters at most).")
    options = IngestOptions(
        caption=caption,
        visibility=visibility,
        trim_start=_seconds(data, "trim_start", "trim start"),
        trim_end=_seconds(data, "trim_end", "trim end"),
        cover_time=_seconds(data, "cover_time", "cover time"),
    )
    if options.trim_start is not None and options.trim_end is not None and options.trim_end <= options.trim_start:
        raise IngestError("The trim end must be after the start and inside the video.")
    return options


def check_length(length: int) -> None:
    """Refuse a declared size before any byte is received."""
    if length <= 0:
        raise IngestError("The file is empty.")
    if length > settings.UPLOAD_MAX_BYTES:
        raise IngestError(f"The file is larger than {settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB.", 413)


def start_upload(owner, length: int, filename: str, metadata: Mapping[str, str], backend: str) -> Upload:
    """Validate everything known before the bytes arrive, then record the upload.

    Refusing here (too big, bad options, a video still processing) spares the uploader from
    sending 50 MB only to hear no at the end.
    """
    check_length(length)
    name = clean_filename(filename or "video.mp4")
    parse_options(metadata)
    check_can_upload(owner)
    meta = {k: str(v)[:2200] for k, v in metadata.items() if k in METADATA_KEYS}
    upload = Upload.objects.create(owner=owner, backend=backend, filename=name, length=length, metadata=meta)
    upload.work_path.parent.mkdir(parents=True, exist_ok=True)
    return upload


METADATA_KEYS = {"caption", "visibility", "trim_start", "trim_end", "cover_time", "filetype"}


def access_upload(owner, upload_id, backend: str | None = None) -> Upload | None:
    """The owner's upload, or None (others get the same answer as for a missing one)."""
    qs = Upload.objects.filter(owner=owner)
    if backend:
        qs = qs.filter(backend=backend)
    try:
        return qs.filter(pk=upload_id).first()
    except (ValueError, TypeError, ValidationError):
        return None


def finish_upload(upload: Upload) -> Video:
    """Ingest the complete bytes at `upload.work_path` and link the Video; raises IngestError.

    The caller has claimed the upload (status COMPLETE) so this runs once. The work file is
    removed either way: a refused file is useless, an ingested one lives in storage now.
    """
    try:
        video = ingest(upload.owner, upload.work_path, upload.filename, parse_options(upload.metadata))
    except IngestError as exc:
        Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.FAILED, error=str(exc))
        raise
    finally:
        upload.work_path.unlink(missing_ok=True)
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.INGESTED, video=video, error="")
    upload.status, upload.video = Upload.Status.INGESTED, video
    log.info("upload %s ingested as video %s", upload.pk, video.pk)
    return video


def discard_upload(upload: Upload) -> None:
    upload.work_path.unlink(missing_ok=True)
    upload.delete()


def sweep_abandoned_uploads(older_than: timedelta = timedelta(hours=24)) -> int:
    """Drop resumable uploads nobody has touched for a day: their bytes and their records."""
    stale = Upload.objects.filter(
        status__in=[Upload.Status.RECEIVING, Upload.Status.FAILED], updated_at__lt=timezone.now() - older_than
    )
    count = 0
    for upload in stale:
        discard_upload(upload)
        count += 1
    return count


def page_state(user, video_id: str | None) -> dict | None:
    """The snapshot the upload page renders on load (?video=<id>), so a reload shows the state."""
    if not video_id:
        return None
    try:
        return snapshot(user, video_id)
    except (ValueError, TypeError):
        return None
