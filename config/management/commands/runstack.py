"""`make run`: migrate, seed demo content when empty, then run daphne + Celery (+ beat) until Ctrl-C.

In embedded mode (no Redis) daphne alone runs: the Celery worker lives inside the web process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.utils import OperationalError

from feed.models import Video
from uploads.ffbin import FFmpegMissing, describe


class Command(BaseCommand):
    help = "Run the whole stack for development: web (daphne), workers, beat."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-seed", action="store_true")
        parser.add_argument("--seed-count", type=int, default=12)

    def handle(self, *args, host: str, port: int, no_seed: bool, seed_count: int, **opts):
        self._preflight(host, port)
        call_command("migrate", interactive=False, verbosity=0)
        # Compressed static files (WhiteNoise serves the .gz/.br copies from STATIC_ROOT).
        call_command("collectstatic", interactive=False, verbosity=0)
        if not no_seed and not Video.objects.exists():
            self.stdout.write(f"Empty database: rendering {seed_count} demo videos (a few minutes, once)...")
            started = time.monotonic()
            call_command("seed_demo", count=seed_count, with_users=True)
            self.stdout.write(f"Seeded in {time.monotonic() - started:.0f}s.")
        elif settings.DEMO_USERS:
            call_command("seed_demo", count=0, with_users=True, verbosity=0)
        connection.close()
        self._serve(host, port)

    def _preflight(self, host: str, port: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                raise CommandError(f"Port {port} on {host} is in use. Stop what uses it or run: PORT=8001 make run")
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            raise CommandError(f"Cannot reach the database ({settings.DATABASE_URL}): {first}") from None
        try:
            self.stdout.write(f"Media tools: {describe()}")
        except FFmpegMissing as exc:
            raise CommandError(str(exc)) from None
        mode = "embedded (no Redis: in-process worker)" if settings.EMBEDDED else f"Redis at {settings.REDIS_URL}"
        db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self.stdout.write(f"Mode: {mode}; database: {db}")

    def _serve(self, host: str, port: int) -> None:
        python = sys.executable
        bindir = os.path.dirname(python)
        procs: list[tuple[str, subprocess.Popen]] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}

        def start(name: str, cmd: list[str]) -> None:
            procs.append((name, subprocess.Popen(cmd, env=env, start_new_session=True)))

        start("web", [os.path.join(bindir, "daphne"), "-b", host, "-p", str(port), "config.asgi:application"])
        if not settings.EMBEDDED:
            celery = os.path.join(bindir, "celery")
            common = ["--without-gossip", "--without-mingle", "-l", "INFO"]
            start(
                "transcode",
                [celery, "-A", "config", "worker", "-Q", "transcode", "-c", "1", "-n", f"transcode-{port}@%h", *common],
            )
            start(
                "io",
                [
                    celery,
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "aigen,default",
                    "-P",
                    "threads",
                    "-c",
                    "8",
                    "-n",
                    f"io-{port}@%h",
                    *common,
                ],
            )
            schedule = str(settings.VAR_DIR / "celerybeat-schedule")
            start("beat", [celery, "-A", "config", "beat", "-l", "WARNING", "-s", schedule])

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        if self._wait_for_port(host, port, procs[0][1]):
            url = f"http://{host}:{port}/"
            self.stdout.write(self.style.SUCCESS(f"\nClipstream is running at {url}"))
            if settings.DEMO_USERS:
                self.stdout.write("Log in as demo/demo (viewer) or moderator/moderator (admin at /admin/).")
            self.stdout.write("Press Ctrl-C to stop.\n")
        try:
            while not stopping:
                for name, proc in procs:
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping.")
                        stopping = True
                time.sleep(0.3)
        finally:
            for _, proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _, proc in procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            self.stdout.write("Stopped.")

    def _wait_for_port(self, host: str, port: int, proc: subprocess.Popen, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.2)
        return False
