"""`manage.py generate "prompt" [--provider P] [--model M] [--seconds N] [--size WxH] [--wait] [--user U]`."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from aigen import services
from aigen.limits import LimitError
from aigen.models import GenerationJob


class Command(BaseCommand):
    help = "Generate a video through the same service as /generate/ (the worker does the work)."

    def add_arguments(self, parser):
        parser.add_argument("prompt")
        parser.add_argument("--provider")
        parser.add_argument("--model")
        parser.add_argument("--size")
        parser.add_argument("--seconds", type=int)
        parser.add_argument("--style", default="")
        parser.add_argument("--user", default=None, help="username (default: the first superuser)")
        parser.add_argument("--wait", action="store_true", help="follow the job until it ends")
        parser.add_argument("--timeout", type=float, default=900)

    def handle(self, *args, **opts):
        owner = self._owner(opts["user"])
        try:
            job = services.submit(
                owner,
                opts["prompt"],
                provider=opts["provider"],
                model=opts["model"],
                size=opts["size"],
                seconds=opts["seconds"],
                style=opts["style"],
            )
        except LimitError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"job {job.pk} queued ({job.provider}/{job.model}, ${job.estimated_cost})")
        if not opts["wait"]:
            return
        deadline, last = time.monotonic() + opts["timeout"], None
        while time.monotonic() < deadline:
            job = GenerationJob.objects.get(pk=job.pk)
            line = f"{job.status} {job.progress:.0f}% {job.message}"
            if line != last:
                self.stdout.write(line)
                last = line
            if not job.is_active:
                break
            time.sleep(1)  # a developer's terminal, not a worker slot
        if job.status == GenerationJob.Status.FAILED:
            raise CommandError(job.message)
        if job.is_active:
            raise CommandError("timed out waiting (is a worker running on the `aigen` queue?)")
        self.stdout.write(self.style.SUCCESS(f"{job.status}: {job.get_absolute_url()}"))

    def _owner(self, username: str | None):
        users = get_user_model().objects
        user = users.filter(username=username).first() if username else users.filter(is_superuser=True).first()
        if user is None:
            raise CommandError(f"no user {username!r}" if username else "no superuser: pass --user")
        return user
