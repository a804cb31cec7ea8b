"""AI generation jobs: one prompt sent to one provider, followed to a transcoded preview."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse


class GenerationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SUBMITTED = "submitted", "Submitted to provider"
        IN_PROGRESS = "in_progress", "Generating"
        DOWNLOADING = "downloading", "Downloading"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready to preview"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    ACTIVE = (Status.QUEUED, Status.SUBMITTED, Status.IN_PROGRESS, Status.DOWNLOADING, Status.PROCESSING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_jobs")
    prompt = models.TextField()
    style = models.CharField(max_length=40, blank=True)
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=60)
    seconds = models.PositiveSmallIntegerField()
    size = models.CharField(max_length=12)
    remix_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0)
    message = models.CharField(max_length=300, blank=True)
    provider_job_id = models.CharField(max_length=200, blank=True, db_index=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    poll_count = models.PositiveIntegerField(default=0)

    estimated_cost = models.DecimalField(max_digits=8, decimal_places=3, default=0)
    actual_cost = models.DecimalField(max_digits=8, decimal_places=3, default=0)

    video = models.OneToOneField("feed.Video", null=True, blank=True, on_delete=models.SET_NULL)
    thumbnail = models.CharField(max_length=300, blank=True, help_text="Storage path of the provider's thumbnail")

    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    provider_completed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"], name="genjob_owner_recent")]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.status}: {self.prompt[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("aigen:job", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def topic(self) -> str:
        return f"job:{self.pk}"

    @property
    def provider_seconds(self) -> float | None:
        """Wall time at the provider (submitted → completed)."""
        if self.submitted_at and self.provider_completed_at:
            return (self.provider_completed_at - self.submitted_at).total_seconds()
        return None

    @property
    def total_seconds(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.created_at).total_seconds()
        return None
