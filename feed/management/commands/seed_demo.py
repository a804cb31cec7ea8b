"""Seed demo users and demo videos rendered with ffmpeg, each through the real transcode pipeline."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from feed.models import User, Video
from uploads import demo, pipeline, services

DEMO_AUTHORS = ["demo", "luna.loops", "fractal.fox", "pixelpilot"]


class Command(BaseCommand):
    help = "Create demo users (demo/demo, moderator/moderator) and N demo videos. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=12)
        parser.add_argument("--seconds", type=float, default=None, help="clip length (default 15–20 s)")
        parser.add_argument("--with-users", action="store_true", help="create demo logins even when DEBUG is off")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when any video exists")

    def handle(self, *args, count: int, seconds: float | None, with_users: bool, if_empty: bool, **opts):
        if if_empty and Video.objects.exists():
            self.stdout.write("Videos exist; skipping demo seed.")
            return
        if count < 0:
            raise CommandError("--count must be positive")
        if settings.DEMO_USERS or with_users:
            self._users()
        authors = [self._author(name) for name in DEMO_AUTHORS]
        made = 0
        with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
            for i in range(count):
                name = f"demo-{i:02d}.mp4"
                author = authors[i % len(authors)]
                if Video.objects.filter(owner=author, source_name=name).exists():
                    continue
                length = seconds or 15 + (i * 7) % 6
                started = time.monotonic()
                path, caption = demo.render_clip(Path(tmp) / name, i, seconds=length)
                rendered = time.monotonic() - started
                video = services.ingest(
                    author, path, name,
                    services.IngestOptions(caption=caption, enforce_limits=False, queue_transcode=False),
                )  # fmt: skip
                video = pipeline.transcode_video(video.pk) or Video.objects.get(pk=video.pk)
                made += 1
                self.stdout.write(
                    f"  video {video.pk:>4} {video.status:<6} {length:4.1f}s clip  render {rendered:4.1f}s  "
                    f"transcode {video.transcode_seconds or 0:4.1f}s  {caption}"
                )
        self.stdout.write(self.style.SUCCESS(f"Seeded {made} demo video(s); {Video.objects.count()} in total."))

    def _author(self, username: str) -> User:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
        return user

    def _users(self) -> None:
        demo_user, _ = User.objects.get_or_create(username="demo")
        demo_user.set_password("demo")
        demo_user.save()
        moderators, _ = Group.objects.get_or_create(name="Moderators")
        mod, _ = User.objects.get_or_create(username="moderator", defaults={"is_staff": True})
        mod.is_staff = True
        mod.set_password("moderator")
        mod.save()
        mod.groups.add(moderators)
        self.stdout.write("Demo logins: demo/demo, moderator/moderator (staff, Moderators group)")
