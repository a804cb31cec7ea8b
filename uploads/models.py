"""Ingest state: a resumable upload in progress, before it becomes a feed Video."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models


class Upload(models.Model):
    """One upload before it becomes a Video.

    `tus`: bytes arrive through the app into WORK_DIR/uploads/<id>; `offset` is what we hold.
    `s3`: the browser sends bytes straight to the bucket (presigned multipart, `s3_key` /
    `s3_upload_id`); the app pulls the object into the same work path once it is complete.
    """

    class Status(models.TextChoices):
        RECEIVING = "receiving", "Receiving"
        COMPLETE = "complete", "Complete"
        INGESTED = "ingested", "Ingested"
        FAILED = "failed", "Failed"

    class Backend(models.TextChoices):
        TUS = "tus", "Resumable (tus)"
        S3 = "s3", "Direct to S3"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    backend = models.CharField(max_length=4, choices=Backend.choices, default=Backend.TUS)
    filename = models.CharField(max_length=255, blank=True)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVING)
    video = models.OneToOneField("feed.Video", null=True, blank=True, on_delete=models.SET_NULL)
    error = models.TextField(blank=True)
    s3_key = models.CharField(max_length=300, blank=True)
    s3_upload_id = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Upload {self.id} {self.offset}/{self.length}"

    @property
    def work_path(self) -> Path:
        """Where this upload's bytes live on local disk while it is received or ingested."""
        return Path(settings.WORK_DIR) / "uploads" / str(self.id)
