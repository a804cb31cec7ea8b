"""AI generation: the one home of every operation on a GenerationJob.

Views, the API, the Celery task (through aigen.flow), the webhook, admin actions and the
`generate` command all call these. State changes are conditional updates (`filter(status=...)
.update(...)`), so two workers or a user racing a worker cannot both win. Every change is
pushed to the owner's websocket (`job:<id>` and `user`) after commit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from aigen import limits
from aigen.limits import LimitError, Spec
from aigen.models import GenerationJob
from aigen.providers import default_provider, provider_class
from feed.models import User, Video
from uploads import progress

Status = GenerationJob.Status

# Provider error codes → what we tell the user. Anything else shows the provider's own message.
_POLICY = "The provider declined this prompt under its content policy. Rephrase it and try again."
_CREDIT = "The video provider's account is out of credit. Try another model or come back later."
PLAIN_WORDS = {
    "moderation_blocked": _POLICY,
    "content_policy_violation": _POLICY,
    "invalid_size": "That size is not available for this model. Pick another size.",
    "invalid_request": "The provider refused these settings. Try another size or duration.",
    "insufficient_quota": _CREDIT,
    "billing_hard_limit_reached": _CREDIT,
    "auth": "The video provider rejected our credentials. An admin has to fix the configuration.",
    "permission_denied": "The video provider rejected our credentials. An admin has to fix the configuration.",
    "transcode_failed": "The video came back but could not be processed.",
    "timeout": "The provider took too long. Nothing was charged; try again.",
}


def plain_words(code: str, message: str) -> str:
    return PLAIN_WORDS.get(code) or (f"The provider could not make this video: {message}" if message else code)


# --- progress events ------------------------------------------------------------------------------


def job_event(job: GenerationJob, eta_s: float | None = None) -> dict:
    extra = {
        "job_id": str(job.pk),
        "url": job.get_absolute_url(),
        "label": job.get_status_display(),
        "cost": str(job.actual_cost if not job.is_active else job.estimated_cost),
        "prompt": job.prompt[:80],
    }
    if job.status in (Status.READY, Status.PUBLISHED) and job.video_id:
        video = job.video
        extra.update(master_url=video.master_url, poster_url=video.poster_url, video_url=video.get_absolute_url())
    if job.status == Status.FAILED:
        extra["error_code"] = job.error_code
    return progress.event(job.topic, job.status, job.progress, eta_s, job.message, **extra)


def emit(job: GenerationJob, eta_s: float | None = None) -> None:
    """Push to `job:<id>`; progress.publish also copies it to the owner's `user` topic, which is
    what the toast on every other page listens to."""
    progress.publish(job_event(job, eta_s), job.owner_id)


def snapshot(user, key: str) -> dict | None:
    """State of `job:<key>` for its owner: the websocket's first message for that topic."""
    job = GenerationJob.objects.select_related("video").filter(pk=uuid.UUID(key), owner=user).first()
    return None if job is None else job_event(job)


def access_job(user, job_id) -> GenerationJob:
    """The user's own job, or GenerationJob.DoesNotExist (views turn it into a 404)."""
    return GenerationJob.objects.select_related("video", "remix_of").get(pk=job_id, owner=user)


def recent_jobs(user, limit: int = 20) -> list[GenerationJob]:
    return list(GenerationJob.objects.filter(owner=user).select_related("video").order_by("-created_at")[:limit])


# --- submit ----------------------------------------------------------------------------------------


def spent_today(owner) -> Decimal:
    """Estimated cost of today's jobs that did not fail or get canceled (those cost nothing)."""
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    total = (
        GenerationJob.objects.filter(owner=owner, created_at__gte=start)
        .exclude(status__in=[Status.FAILED, Status.CANCELED])
        .aggregate(s=Sum("estimated_cost"))["s"]
    )
    return total or Decimal("0")


def resolve_spec(
    provider: str | None, model: str | None, size: str | None, seconds: int | None, style: str = ""
) -> Spec:
    """Fill defaults (portrait, the provider's first model and duration), then validate."""
    provider = provider or default_provider()
    try:
        cls = provider_class(provider)
    except KeyError:
        raise LimitError(f"Unknown provider {provider!r}.", field="model") from None
    models = cls.models()
    model = model or next(iter(models), "")
    sizes = models.get(model, {})
    size = size or ("720x1280" if "720x1280" in sizes else next(iter(sizes), ""))
    return limits.check_spec(Spec(provider, model, size, int(seconds or cls.seconds[0]), style or ""))


def submit(
    owner,
    prompt: str,
    *,
    provider: str | None = None,
    model: str | None = None,
    size: str | None = None,
    seconds: int | None = None,
    style: str = "",
    remix_of: GenerationJob | None = None,
) -> GenerationJob:
    """Validate, check budget and limits, create the job and queue its task. Raises LimitError."""
    prompt = limits.clean_prompt(prompt)
    spec = resolve_spec(provider, model, size, seconds, style)
    cost = limits.estimate(spec)
    job_id = uuid.uuid4()
    if not limits.acquire_slot(str(job_id)):
        raise LimitError(
            "Too many videos are being generated right now. Try again in a minute.", status=429, field="__all__"
        )
    try:
        with transaction.atomic():
            # One submit at a time per user: the budget and concurrency checks below stay true.
            User.objects.select_for_update().filter(pk=owner.pk).first()
            active = GenerationJob.objects.filter(owner=owner, status__in=GenerationJob.ACTIVE).count()
            if active >= settings.AIGEN_MAX_CONCURRENT_PER_USER:
                raise LimitError(
                    f"You already have {active} videos generating. Wait for one to finish.", 429, "__all__"
                )
            budget = Decimal(str(settings.AIGEN_DAILY_BUDGET_USD))
            left = budget - spent_today(owner)
            if cost > left:
                raise LimitError(
                    f"This video costs ${cost:.2f} but only ${max(left, Decimal(0)):.2f} of your "
                    f"${budget:.2f} daily budget is left.",
                    402,
                    "__all__",
                )
            job = GenerationJob.objects.create(
                id=job_id,
                owner=owner,
                prompt=prompt,
                style=spec.style,
                provider=spec.provider,
                model=spec.model,
                size=spec.size,
                seconds=spec.seconds,
                remix_of=remix_of,
                estimated_cost=cost,
                message="Waiting for a worker",
            )
            emit(job, eta_s=None)
            from aigen.tasks import run_job

            transaction.on_commit(lambda: run_job.delay(str(job.pk), 0))
    except BaseException:
        limits.release_slot(str(job_id))
        raise
    return job


def regenerate(owner, job: GenerationJob, prompt: str) -> GenerationJob:
    """A refined prompt on the same settings. The provider's remix is used when it has one."""
    if job.owner_id != owner.pk:
        raise GenerationJob.DoesNotExist
    if job.is_active:
        raise LimitError("Wait for this video to finish before regenerating it.", 409, "prompt")
    return submit(
        owner,
        prompt,
        provider=job.provider,
        model=job.model,
        size=job.size,
        seconds=job.seconds,
        style=job.style,
        remix_of=job,
    )


# --- endings ---------------------------------------------------------------------------------------


def _finish(job_id, to_status: str, allowed, **fields) -> GenerationJob | None:
    """Move an active job to a final state once; release its slot; push the change."""
    now = timezone.now()
    with transaction.atomic():
        done = GenerationJob.objects.filter(pk=job_id, status__in=allowed).update(
            status=to_status, finished_at=now, updated_at=now, **fields
        )
        if not done:
            return None
        job = GenerationJob.objects.select_related("video").get(pk=job_id)
        emit(job, eta_s=0)
    limits.release_slot(str(job_id))
    return job


def fail(job_id, code: str, message: str) -> GenerationJob | None:
    """Failed jobs cost nothing (actual_cost 0)."""
    return _finish(
        job_id,
        Status.FAILED,
        GenerationJob.ACTIVE,
        error_code=code[:60],
        error_message=message,
        message=plain_words(code, message)[:300],
        actual_cost=0,
    )


def cancel(job: GenerationJob, by=None) -> bool:
    """Cancel an active job (its owner or staff). A worker mid-step notices at its next claim."""
    if by is not None and by.pk != job.owner_id and not by.is_staff:
        raise GenerationJob.DoesNotExist
    who = "an admin" if by is not None and by.pk != job.owner_id else "you"
    done = _finish(job.pk, Status.CANCELED, GenerationJob.ACTIVE, message=f"Canceled by {who}", actual_cost=0)
    return done is not None


def mark_ready(job_id) -> GenerationJob | None:
    return _finish(job_id, Status.READY, [Status.PROCESSING], progress=100, message="Ready to preview")


def publish(owner, job: GenerationJob) -> GenerationJob:
    """Put the generated video in the feed, labelled AI-generated (source_kind=ai)."""
    if job.owner_id != owner.pk:
        raise GenerationJob.DoesNotExist
    if job.status == Status.PUBLISHED:
        return job
    if job.status != Status.READY or job.video_id is None:
        raise LimitError("Only a finished video can be published.", 409)
    now = timezone.now()
    with transaction.atomic():
        if not GenerationJob.objects.filter(pk=job.pk, status=Status.READY).update(
            status=Status.PUBLISHED, message="Published", updated_at=now
        ):
            return GenerationJob.objects.get(pk=job.pk)
        Video.objects.filter(pk=job.video_id, published_at__isnull=True).update(published_at=now)
        Video.objects.filter(pk=job.video_id).update(
            visibility=Video.Visibility.PUBLIC, source_kind=Video.SourceKind.AI
        )
        job = GenerationJob.objects.select_related("video").get(pk=job.pk)
        emit(job, eta_s=0)
    return job


# --- reporting -------------------------------------------------------------------------------------


def daily_totals(days: int = 14) -> list[dict]:
    """Per day: jobs, failures, cost, for the admin summary."""
    from django.db.models import Count, Q
    from django.db.models.functions import TruncDate

    since = timezone.now() - timedelta(days=days)
    return list(
        GenerationJob.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            jobs=Count("id"),
            failed=Count("id", filter=Q(status=Status.FAILED)),
            canceled=Count("id", filter=Q(status=Status.CANCELED)),
            cost=Sum("actual_cost"),
            estimated=Sum("estimated_cost"),
        )
        .order_by("-day")
    )
