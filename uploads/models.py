"""Ingest state: a resumable upload in progress, before it becomes a feed Video."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Upload(models.Model):
    """A tus resumable upload. Bytes land in WORK_DIR/uploads/<id>; `offset` is what we hold."""

    class Status(models.TextChoices):
        RECEIVING = "receiving", "Receiving"
        COMPLETE = "complete", "Complete"
        INGESTED = "ingested", "Ingested"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    filename = models.CharField(max_length=255, blank=True)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVING)
    video = models.OneToOneField("feed.Video", null=True, blank=True, on_delete=models.SET_NULL)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Upload {self.id} {self.offset}/{self.length}"
