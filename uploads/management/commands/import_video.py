"""Ingest one file through the same service the web upload uses."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from feed.models import User, Video
from uploads import pipeline, services


class Command(BaseCommand):
    help = "Import a video file: import_video PATH [--user U] [--caption C] [--wait]"

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--user", default="demo")
        parser.add_argument("--caption", default="")
        parser.add_argument("--wait", action="store_true", help="block until ready or failed, print timings")
        parser.add_argument("--inline", action="store_true", help="transcode in this process (no worker needed)")
        parser.add_argument("--timeout", type=float, default=600)

    def handle(self, *args, path: str, user: str, caption: str, wait: bool, inline: bool, timeout: float, **opts):
        source = Path(path)
        if not source.is_file():
            raise CommandError(f"No such file: {path}")
        owner = User.objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No such user: {user}")
        started = time.monotonic()
        try:
            video = services.ingest(
                owner, source, source.name,
                services.IngestOptions(caption=caption, enforce_limits=False, queue_transcode=not inline),
            )  # fmt: skip
        except services.IngestError as exc:
            raise CommandError(str(exc)) from None
        ingested = time.monotonic() - started
        self.stdout.write(f"video {video.pk} ingested in {ingested:.2f}s ({video.status})")
        if inline:
            pipeline.transcode_video(video.pk)
        if not (wait or inline):
            return
        deadline = time.monotonic() + timeout
        while True:
            video.refresh_from_db()
            if video.status in (Video.Status.READY, Video.Status.FAILED):
                break
            if time.monotonic() > deadline:
                raise CommandError(f"video {video.pk} still {video.status} after {timeout:.0f}s (is a worker running?)")
            time.sleep(0.5)
        total = time.monotonic() - started
        if video.status == Video.Status.FAILED:
            raise CommandError(f"video {video.pk} failed: {video.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"video {video.pk} ready: {video.duration:.1f}s clip, transcode {video.transcode_seconds:.1f}s, "
                f"total {total:.1f}s, rungs {list(video.renditions.values_list('height', flat=True))}"
            )
        )
