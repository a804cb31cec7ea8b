"""Celery tasks of the ingest pipeline. They take ids and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from feed.models import Video
from uploads import pipeline

log = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost (settings): a worker killed mid-encode gives the task back.
# When another worker still holds a fresh heartbeat, wait for it to finish or go stale.
@shared_task(bind=True, queue="transcode", acks_late=True, max_retries=20, default_retry_delay=30)
def transcode_task(self, video_id: int) -> None:
    try:
        video = pipeline.transcode_video(video_id)
    except Exception as exc:  # storage or database trouble; the pipeline released its claim
        if self.request.retries >= self.max_retries:
            pipeline.give_up(video_id, "We could not process this video right now. Please upload it again later.")
            raise
        raise self.retry(exc=exc, countdown=30)
    if video is None and pipeline.is_busy_elsewhere(video_id):
        raise self.retry(countdown=max(1, int(pipeline.heartbeat_stale().total_seconds())))


@shared_task(queue="default")
def sweep_stale_transcodes() -> int:
    """Re-queue transcodes whose worker vanished (heartbeat stale) — a backstop to re-delivery."""
    stale = Video.objects.filter(
        status=Video.Status.PROCESSING, heartbeat_at__lt=timezone.now() - pipeline.heartbeat_stale() * 4
    )
    count = 0
    for video_id in stale.values_list("pk", flat=True):
        transcode_task.delay(video_id)
        count += 1
    if count:
        log.info("re-queued %d stale transcodes", count)
    return count


@shared_task(queue="default")
def sweep_abandoned_uploads() -> int:
    """Resumable uploads left unfinished for a day free their disk space."""
    from uploads import services

    return services.sweep_abandoned_uploads()
