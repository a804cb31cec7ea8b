"""OpenAI webhooks (`video.completed`, `video.failed`): verified by the SDK, they short-cut the wait.

The webhook never trusts its payload for the outcome: it only kicks the job's follow-up, which
asks the provider itself (one retrieve) and proceeds as usual.
"""

from __future__ import annotations

import logging

import openai
from django.conf import settings

from aigen.models import GenerationJob
from aigen.providers.openai_sora import client

log = logging.getLogger(__name__)

VIDEO_EVENTS = {"video.completed", "video.failed"}


class WebhookRejected(ValueError):
    pass


def handle_openai(body: bytes, headers: dict) -> GenerationJob | None:
    """Verify and act on one delivery. Raises WebhookRejected for a bad signature or no secret."""
    if not settings.OPENAI_WEBHOOK_SECRET:
        raise WebhookRejected("webhooks are not configured (OPENAI_WEBHOOK_SECRET)")
    try:
        event = client().webhooks.unwrap(body, headers, secret=settings.OPENAI_WEBHOOK_SECRET)
    except (openai.InvalidWebhookSignatureError, ValueError) as exc:
        raise WebhookRejected(str(exc)) from None
    if event.type not in VIDEO_EVENTS:
        return None
    job = GenerationJob.objects.filter(provider="openai", provider_job_id=event.data.id).first()
    if job is None or not job.is_active:
        return None
    from aigen.tasks import kick

    log.info("webhook %s for job %s", event.type, job.pk)
    kick(job)
    return job
