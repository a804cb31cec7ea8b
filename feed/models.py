"""What viewers see and touch: users, videos and their ladder, social actions, watch events."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.files.storage import default_storage
from django.db import models
from django.urls import reverse


class User(AbstractUser):
    bio = models.CharField(max_length=300, blank=True)
    hide_ai_videos = models.BooleanField(default=False, help_text="Hide AI-generated videos in my feed")
    follower_count = models.PositiveIntegerField(default=0)
    following_count = models.PositiveIntegerField(default=0)


class Hashtag(models.Model):
    name = models.CharField(max_length=100, unique=True)  # stored lower-case, without '#'
    video_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"#{self.name}"


class VideoQuerySet(models.QuerySet):
    def playable(self) -> VideoQuerySet:
        """Ready, public and not hidden by moderation: what any feed may show."""
        return self.filter(
            status=Video.Status.READY,
            visibility=Video.Visibility.PUBLIC,
            moderation=Video.Moderation.VISIBLE,
            published_at__isnull=False,
        )

    def for_viewer(self, user) -> VideoQuerySet:
        qs = self.playable()
        if getattr(user, "is_authenticated", False) and user.hide_ai_videos:
            qs = qs.exclude(source_kind=Video.SourceKind.AI)
        return qs


class Video(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        UNLISTED = "unlisted", "Unlisted (link only)"
        PRIVATE = "private", "Private (only me)"

    class SourceKind(models.TextChoices):
        UPLOAD = "upload", "Upload"
        RECORDING = "recording", "Recording"
        AI = "ai", "AI-generated"

    class Moderation(models.TextChoices):
        VISIBLE = "visible", "Visible"
        HIDDEN = "hidden", "Hidden by a moderator"
        REMOVED = "removed", "Removed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videos")
    caption = models.CharField(max_length=2200, blank=True)
    hashtags = models.ManyToManyField(Hashtag, blank=True, related_name="videos")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADED, db_index=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.UPLOAD)
    moderation = models.CharField(max_length=10, choices=Moderation.choices, default=Moderation.VISIBLE)

    # The original, as uploaded. sha256 de-duplicates re-uploads of the same file by one user.
    source_file = models.FileField(upload_to="sources/%Y/%m/", max_length=300, blank=True)
    source_name = models.CharField(max_length=255, blank=True)
    source_size = models.PositiveBigIntegerField(default=0)
    source_sha256 = models.CharField(max_length=64, blank=True)
    trim_start = models.FloatField(null=True, blank=True)
    trim_end = models.FloatField(null=True, blank=True)
    cover_time = models.FloatField(null=True, blank=True)

    # Facts from probing and transcoding.
    duration = models.FloatField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    has_audio = models.BooleanField(default=True)
    poster = models.CharField(max_length=300, blank=True, help_text="Storage path of the poster JPEG")
    placeholder = models.TextField(blank=True, help_text="Tiny blurred poster as a data: URI")
    hls_master = models.CharField(max_length=300, blank=True, help_text="Storage path of master.m3u8")
    preview_playlist = models.CharField(
        max_length=300, blank=True, help_text="Lowest rung, playable while the ladder is still encoding"
    )

    # Processing state, mirrored to the uploader over the websocket.
    progress = models.FloatField(default=0)
    stage = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    ffmpeg_log = models.TextField(blank=True)
    transcode_attempts = models.PositiveIntegerField(default=0)
    transcode_started_at = models.DateTimeField(null=True, blank=True)
    # Refreshed by the running transcode; a stale heartbeat lets a re-delivered task take over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    transcode_seconds = models.FloatField(null=True, blank=True)

    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    view_count = models.PositiveBigIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = VideoQuerySet.as_manager()

    class Meta:
        indexes = [
            # Keyset pagination of the public feed: (published_at, id) descending.
            models.Index(
                fields=["-published_at", "-id"],
                name="video_feed_keyset",
                condition=models.Q(status="ready", visibility="public", moderation="visible"),
            ),
            models.Index(fields=["owner", "-created_at"], name="video_owner_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "source_sha256"],
                condition=~models.Q(source_sha256=""),
                name="video_unique_source_per_owner",
            )
        ]

    def __str__(self) -> str:
        return f"Video {self.pk} by {self.owner_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("feed:video", args=[self.pk])

    @property
    def is_ai(self) -> bool:
        return self.source_kind == self.SourceKind.AI

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def master_url(self) -> str:
        return default_storage.url(self.hls_master) if self.hls_master else ""

    @property
    def poster_url(self) -> str:
        return default_storage.url(self.poster) if self.poster else ""


class Rendition(models.Model):
    """One rung of a video's HLS ladder."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="renditions")
    height = models.PositiveIntegerField()  # short edge in px, the rung's name (360, 540, ...)
    width = models.PositiveIntegerField()
    frame_height = models.PositiveIntegerField(default=0)
    bitrate = models.PositiveIntegerField(help_text="Measured average bits per second")
    playlist = models.CharField(max_length=300)
    codecs = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["height"]
        constraints = [models.UniqueConstraint(fields=["video", "height"], name="rendition_unique_rung")]

    def __str__(self) -> str:
        return f"{self.width}x{self.frame_height or self.height} @ {self.bitrate // 1000} kb/s"


class Like(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "video"], name="like_once")]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.video_id}"


class Comment(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="comments")
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["video", "-created_at"], name="comment_video_recent")]

    def __str__(self) -> str:
        return self.text[:50]


class Follow(models.Model):
    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following")
    followee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_once"),
            models.CheckConstraint(condition=~models.Q(follower=models.F("followee")), name="no_self_follow"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class WatchEvent(models.Model):
    """One viewing of one video, batched from the player; raw material for ranking."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    session_key = models.CharField(max_length=40, blank=True)
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="watch_events")
    watched_ms = models.PositiveIntegerField()
    completed = models.BooleanField(default=False)
    loops = models.PositiveSmallIntegerField(default=0)
    skipped = models.BooleanField(default=False, help_text="Swiped away within 2 s")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["video", "-created_at"], name="watch_video_recent")]

    def __str__(self) -> str:
        return f"video {self.video_id}: {self.watched_ms} ms"


class Report(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "Spam"
        ABUSE = "abuse", "Harassment or hate"
        NUDITY = "nudity", "Nudity or sexual content"
        VIOLENCE = "violence", "Violence"
        OTHER = "other", "Other"

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    resolved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reporter", "video"], name="report_once")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} report on video {self.video_id}"
