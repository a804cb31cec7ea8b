"""One step of a job's life, run by the Celery task (aigen.tasks.run_job) again and again.

Each run carries a token (the job's `poll_count` when it was scheduled) and starts by claiming
it with a conditional update. Only one run per token can win, so a duplicate delivery, a webhook
kick racing a scheduled follow-up, or a re-queued task after a crash never act twice. The step
returns how long to wait before the next one (None: finished); the task re-schedules itself
with that countdown instead of sleeping in a worker slot.

Stages and the overall progress they map to: provider 0-80 %, download 80-85 %, transcode
85-100 %.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from aigen import services
from aigen.models import GenerationJob
from aigen.providers import get_provider
from aigen.providers.base import Provider, ProviderJob, RefusedError, TransientError
from feed.models import Video
from uploads.services import IngestError, IngestOptions, ingest

log = logging.getLogger(__name__)
Status = GenerationJob.Status

PROCESSING_POLL = 1.0  # s between checks of our own transcode (a cheap DB read)
PROCESSING_TIMEOUT = timedelta(minutes=20)


def claim(job_id: str, token: int) -> GenerationJob | None:
    """Win this step, or None when another run already took it or the job is over."""
    won = GenerationJob.objects.filter(pk=job_id, poll_count=token, status__in=GenerationJob.ACTIVE).update(
        poll_count=token + 1, updated_at=timezone.now()
    )
    return GenerationJob.objects.select_related("video", "remix_of").get(pk=job_id) if won else None


def step(job_id: str, token: int) -> float | None:
    """Advance the job once. Returns the delay before the next step, or None when there is none."""
    job = claim(job_id, token)
    if job is None:
        return None
    provider = get_provider(job.provider)
    try:
        if job.status == Status.QUEUED or (job.status == Status.SUBMITTED and not job.provider_job_id):
            return _submit(job, provider)
        if job.status in (Status.SUBMITTED, Status.IN_PROGRESS):
            return _follow(job, provider)
        if job.status == Status.DOWNLOADING:
            return _download(job, provider)
        return _watch_transcode(job)
    except TransientError as exc:
        delay = max(exc.retry_after or 0, backoff(job, provider))
        _update(job, message=f"{exc} Retrying in {delay:.0f} s.")
        log.info("job %s: transient provider error (%s), next try in %.1fs", job.pk, exc, delay)
        return delay
    except RefusedError as exc:
        services.fail(job.pk, exc.code, str(exc))
        return None


def backoff(job: GenerationJob, provider: Provider) -> float:
    """2 s while a job is young, growing with its age to 15 s (per provider bounds)."""
    since = job.submitted_at or job.created_at
    age = (timezone.now() - since).total_seconds()
    return min(provider.poll_max, max(provider.poll_min, age / 4))


def _update(job: GenerationJob, eta_s: float | None = None, **fields) -> None:
    """Save fields on the still-active job and push the change (a canceled job stays canceled)."""
    fields["updated_at"] = timezone.now()
    if GenerationJob.objects.filter(pk=job.pk, status__in=GenerationJob.ACTIVE).update(**fields):
        for name, value in fields.items():
            setattr(job, name, value)
        services.emit(job, eta_s)


def _submit(job: GenerationJob, provider: Provider) -> float:
    now = timezone.now()
    # Claim the submission before calling out; the stored provider id (below) is what stops
    # any later run from submitting again. A re-send after a lost answer reuses the job id as
    # idempotency key (OpenAI), so the provider sees one job.
    if not GenerationJob.objects.filter(
        pk=job.pk, status__in=[Status.QUEUED, Status.SUBMITTED], provider_job_id=""
    ).update(status=Status.SUBMITTED, submitted_at=job.submitted_at or now, message="Sending to the provider"):
        return backoff(job, provider)
    job.status, job.submitted_at = Status.SUBMITTED, job.submitted_at or now
    services.emit(job, provider.typical() + 3 + job.seconds)
    source = job.remix_of
    if source and provider.supports_remix and source.provider == job.provider and source.provider_completed_at:
        state = provider.remix(job, source.provider_job_id, _full_prompt(job))
    else:
        state = provider.create(job, _full_prompt(job))
    GenerationJob.objects.filter(pk=job.pk, provider_job_id="").update(provider_job_id=state.id)
    job.provider_job_id = state.id
    _apply_state(job, provider, state)
    return provider.poll_min


def _full_prompt(job: GenerationJob) -> str:
    from aigen.limits import STYLES

    suffix = STYLES.get(job.style, "")
    return f"{job.prompt} Style: {suffix}." if suffix else job.prompt


def _follow(job: GenerationJob, provider: Provider) -> float | None:
    state = provider.retrieve(job)
    if state.status == "completed":
        return _completed(job, provider)
    if state.status == "failed":
        services.fail(job.pk, state.error_code or "failed", state.error_message)
        return None
    _apply_state(job, provider, state)
    return backoff(job, provider)


def _apply_state(job: GenerationJob, provider: Provider, state: ProviderJob) -> None:
    pct = 2 + 0.78 * max(0.0, min(100.0, state.progress))
    status = Status.IN_PROGRESS if state.status == "in_progress" else Status.SUBMITTED
    message = "Generating" if status == Status.IN_PROGRESS else "Queued at the provider"
    if status == job.status and abs(pct - job.progress) < 0.05:
        GenerationJob.objects.filter(pk=job.pk).update(updated_at=timezone.now())
        return  # nothing new to tell the browser
    _update(job, eta_s=_eta(job, provider, state.progress), status=status, progress=pct, message=message)


def _eta(job: GenerationJob, provider: Provider, provider_pct: float) -> float:
    """Provider time left (from its progress rate) plus our download and transcode."""
    elapsed = (timezone.now() - (job.submitted_at or job.created_at)).total_seconds()
    typical = provider.typical()
    if provider_pct >= 5:
        left = elapsed * (100 - provider_pct) / provider_pct
    else:
        left = max(typical - elapsed, 1.0)
    return left + 3 + job.seconds


def _completed(job: GenerationJob, provider: Provider) -> float | None:
    now = timezone.now()
    # The provider charges on completion: the estimate becomes the actual cost here.
    if not GenerationJob.objects.filter(pk=job.pk, status__in=[Status.SUBMITTED, Status.IN_PROGRESS]).update(
        status=Status.DOWNLOADING, provider_completed_at=now, actual_cost=job.estimated_cost
    ):
        return None
    job.status, job.provider_completed_at = Status.DOWNLOADING, now
    _update(job, eta_s=3 + job.seconds, progress=80, message="Downloading the video")
    return _download(job, provider)


def _download(job: GenerationJob, provider: Provider) -> float | None:
    workdir = Path(tempfile.mkdtemp(prefix=f"aigen-{job.pk.hex[:8]}-", dir=_work_root()))
    try:
        got = provider.download(job, workdir)
        thumb = ""
        if got.thumbnail and got.thumbnail.exists() and got.thumbnail.stat().st_size:
            thumb = f"aigen/{job.pk}/thumbnail{got.thumbnail.suffix}"
            if default_storage.exists(thumb):
                default_storage.delete(thumb)
            with open(got.thumbnail, "rb") as fh:
                default_storage.save(thumb, File(fh))
        options = IngestOptions(
            caption=job.prompt[:2200],
            visibility=Video.Visibility.PRIVATE,
            source_kind=Video.SourceKind.AI,
            enforce_limits=False,
        )
        try:
            with transaction.atomic():
                video = ingest(job.owner, got.video, f"ai-{job.pk}.mp4", options)
                won = GenerationJob.objects.filter(pk=job.pk, status=Status.DOWNLOADING).update(
                    video=video, thumbnail=thumb, status=Status.PROCESSING
                )
        except IngestError as exc:
            services.fail(job.pk, "invalid_output", f"The provider's file was not a usable video: {exc}")
            return None
        except IntegrityError:
            services.fail(job.pk, "duplicate_output", "The provider returned a video already used by another job.")
            return None
        if not won:
            return None
        job.video, job.status = video, Status.PROCESSING
        _update(job, eta_s=2 + job.seconds, progress=85, message="Preparing the preview")
        return PROCESSING_POLL
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _watch_transcode(job: GenerationJob) -> float | None:
    """Follow our own transcode of the downloaded video to ready (a DB read, no provider call)."""
    video = Video.objects.filter(pk=job.video_id).only("status", "progress", "error").first()
    if video is None:
        services.fail(job.pk, "transcode_failed", "The video disappeared before it was processed.")
        return None
    if video.status == Video.Status.READY:
        services.mark_ready(job.pk)
        return None
    if video.status == Video.Status.FAILED:
        services.fail(job.pk, "transcode_failed", video.error)
        return None
    if timezone.now() - (job.provider_completed_at or job.created_at) > PROCESSING_TIMEOUT:
        services.fail(job.pk, "transcode_failed", "Processing took too long.")
        return None
    pct = 85 + 0.15 * min(video.progress, 99)
    if pct - job.progress >= 0.5:
        left = (100 - video.progress) / 100 * (2 + job.seconds)
        _update(job, eta_s=left, progress=pct, message="Preparing the preview")
    return PROCESSING_POLL


def _work_root() -> Path:
    root = Path(settings.WORK_DIR) / "aigen"
    root.mkdir(parents=True, exist_ok=True)
    return root


def stale_jobs(older_than: timedelta = timedelta(seconds=60)) -> list[tuple[str, int]]:
    """Active jobs nobody touched lately (lost chain, crashed worker): (id, current token)."""
    cutoff = timezone.now() - older_than
    rows = GenerationJob.objects.filter(status__in=GenerationJob.ACTIVE, updated_at__lt=cutoff)
    return [(str(pk), token) for pk, token in rows.values_list("pk", "poll_count")]
