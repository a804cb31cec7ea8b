"""Celery tasks of AI generation (queue `aigen`, I/O bound). They take ids and are safe to run twice."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.db import transaction

from aigen import flow, limits
from aigen.models import GenerationJob

log = logging.getLogger(__name__)


# acks_late (settings): a worker killed mid-step gives the message back; its token is then
# stale, so the re-delivery is a no-op and the sweeper below re-kicks the job from where it is.
@shared_task(queue="aigen", acks_late=True, ignore_result=True)
def run_job(job_id: str, token: int = 0) -> None:
    delay = flow.step(job_id, token)
    if delay is not None:
        schedule(job_id, token + 1, delay)


def schedule(job_id: str, token: int, delay: float) -> None:
    """Re-schedule instead of sleeping: the worker slot is free while the provider works."""

    def send() -> None:
        if run_job.app.conf.task_always_eager:
            # Embedded mode outside the web process (a management command): no broker can hold
            # a countdown, and this process is not a worker slot, so waiting here is right.
            time.sleep(delay)
        run_job.apply_async((job_id, token), countdown=round(delay, 2))

    transaction.on_commit(send)


def kick(job: GenerationJob) -> None:
    """Follow the job now (webhook, sweeper): whichever run claims the current token wins."""
    schedule(str(job.pk), job.poll_count, 0)


@shared_task(queue="aigen", ignore_result=True)
def sweep_stale_jobs() -> int:
    """Backstop for lost follow-ups (worker killed between steps): resume the same provider job."""
    stale = flow.stale_jobs()
    for job_id, token in stale:
        schedule(job_id, token, 0)
    active = [
        str(pk) for pk in GenerationJob.objects.filter(status__in=GenerationJob.ACTIVE).values_list("pk", flat=True)
    ]
    limits.resync_slots(active)
    if stale:
        log.info("re-kicked %d stale generation jobs", len(stale))
    return len(stale)
