"""Shared fixtures: named users, real generated clips, a live stack (daphne + Celery worker) and
headless Chromium for browser tests. Everything here talks to the real services on this machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from uploads.ffbin import ffmpeg_path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, which async_to_sync (Channels, our event publishing) refuses."""
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))


# --- users -------------------------------------------------------------------------------------


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-pass-123")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-pass-123")


@pytest.fixture
def fresh_aigen_slots():
    """The global AI generation cap is a shared counter in the cache: reset it around a test."""
    from django.core.cache import cache

    from aigen import limits

    cache.delete(limits.COUNTER_KEY)
    yield
    cache.delete(limits.COUNTER_KEY)


# --- media -------------------------------------------------------------------------------------


def render_test_clip(
    dest: Path,
    seconds: float = 4,
    width: int = 360,
    height: int = 640,
    fps: int = 30,
    audio: bool = True,
    extra: list[str] | None = None,
) -> Path:
    """A small real H.264/AAC MP4 from ffmpeg's test sources (fast to make, fast to transcode)."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    cmd += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(fps)]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    cmd += [*(extra or []), str(dest)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return dest


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def small_clip(clip_dir) -> Path:
    """4 s portrait 360x640 with audio."""
    return render_test_clip(clip_dir / "small.mp4")


@pytest.fixture
def fresh_clip(tmp_path):
    """A factory for clips with distinct bytes (so de-duplication by hash does not merge them)."""
    counter = {"n": 0}

    def make(**kwargs) -> Path:
        counter["n"] += 1
        n = counter["n"]
        extra = ["-metadata", f"title=clip-{n}-{time.time_ns()}"]
        return render_test_clip(tmp_path / f"clip{n}.mp4", extra=extra, **kwargs)

    return make


# --- a live stack: daphne + a real Celery worker against the test database -----------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        pytest.skip("the live stack needs PostgreSQL (set DATABASE_URL)")  # never in CI: .ci/run sets it
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class LiveStack:
    def __init__(self, url: str, procs: list[subprocess.Popen], logdir: Path):
        self.url = url
        self.procs = procs
        self.logdir = logdir

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.logdir.glob("*.log")))


@pytest.fixture(scope="session")
def live_stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """daphne serving config.asgi and a Celery worker, both on the test database and media dir."""
    if settings.EMBEDDED:
        pytest.skip("the live stack needs Redis")  # never in CI: Redis runs there
    # Messages left by an earlier run (ETA retries, unacked deliveries) would reach this run's
    # worker and name ids that now belong to other rows: start from empty queues.
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(
        "transcode", "aigen", "default", "unacked", "unacked_index", "unacked_mutex"
    )
    port = _free_port()
    logdir = tmp_path_factory.mktemp("stack-logs")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": _database_url(),
        "CLIPSTREAM_TEST_DIR": str(Path(settings.MEDIA_ROOT).parent),
        "CELERY_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "0",
    }
    bindir = Path(sys.executable).parent
    commands = {
        "web": [str(bindir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        "worker": [
            str(bindir / "celery"), "-A", "config", "worker", "-Q", "transcode,aigen,default",
            "-P", "threads", "-c", "4", "-n", f"test-{port}@%h", "--without-gossip", "--without-mingle",
            "-l", "INFO",
        ],
    }  # fmt: skip
    procs = []
    for name, cmd in commands.items():
        log = open(logdir / f"{name}.log", "w")  # noqa: SIM115 (lives as long as the process)
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    stack = LiveStack(f"http://127.0.0.1:{port}", procs, logdir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        pytest.fail("daphne did not start:\n" + stack.logs())
    yield stack
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 412, "height": 780})
    pg = context.new_page()
    yield pg
    context.close()


def login_in_browser(page, stack: LiveStack, username: str, password: str) -> None:
    page.goto(f"{stack.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
