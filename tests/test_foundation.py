"""Foundation: configuration, modes, media tools, accounts, admin, commands and their errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from config.env import env_bool, env_int
from config.mode import decide_embedded, redis_answers
from feed.models import Rendition, User, Video
from uploads import ffbin, probe

ROOT = Path(__file__).resolve().parent.parent


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


# --- settings and modes -------------------------------------------------------------------------


def test_env_helpers_refuse_garbage_with_the_variable_name(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='maybe'"):
        env_bool("SOME_FLAG")
    monkeypatch.setenv("SOME_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_INT"):
        env_int("SOME_INT", 1)
    monkeypatch.setenv("SOME_FLAG", "Yes")
    assert env_bool("SOME_FLAG") is True


def test_redis_mode_auto_uses_redis_when_it_answers(settings):
    assert redis_answers(settings.REDIS_URL)
    assert decide_embedded("auto", settings.REDIS_URL) is False


def test_redis_mode_auto_falls_back_to_embedded_when_nothing_answers():
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    assert decide_embedded("auto", url) is True
    assert decide_embedded("off", "redis://127.0.0.1:6379/0") is True


def test_redis_mode_on_without_redis_is_a_one_line_error():
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    result = _manage("check", env={"REDIS_MODE": "on", "REDIS_URL": url})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Configuration error: REDIS_MODE=on but Redis does not answer at {url}. "
        "Start Redis or set REDIS_MODE=auto to run embedded."
    ]


def test_embedded_mode_uses_in_memory_layer_and_inline_tasks(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMBEDDED, s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "channels.layers.InMemoryChannelLayer", "memory://", "True"]


def test_bad_boolean_setting_is_a_one_line_error():
    result = _manage("check", env={"DEBUG": "maybe"})
    assert result.returncode != 0
    assert result.stderr.strip() == "Configuration error: DEBUG='maybe' is not a boolean (use 1/0, true/false, yes/no)"


# --- media tools --------------------------------------------------------------------------------


def test_system_ffmpeg_is_preferred_and_the_wheel_is_the_fallback(monkeypatch, settings):
    ffbin.ffmpeg_path.cache_clear()
    try:
        assert ffbin.ffmpeg_path() == "/usr/bin/ffmpeg"
        ffbin.ffmpeg_path.cache_clear()
        monkeypatch.setattr(ffbin.shutil, "which", lambda name: None)
        wheel = ffbin.ffmpeg_path()
        assert "imageio_ffmpeg" in wheel and os.access(wheel, os.X_OK)
    finally:
        ffbin.ffmpeg_path.cache_clear()


def test_probe_works_without_ffprobe(monkeypatch, small_clip):
    with_ffprobe = probe.probe(small_clip)
    monkeypatch.setattr(probe, "ffprobe_path", lambda: None)
    without = probe.probe(small_clip)
    assert (without.width, without.height, without.has_audio, without.video_codec) == (360, 640, True, "h264")
    assert without.duration == pytest.approx(with_ffprobe.duration, abs=0.1)
    assert without.fps == pytest.approx(30, abs=0.5)


def test_missing_ffmpeg_is_reported_by_a_system_check(monkeypatch, settings):
    from config.checks import check_ffmpeg

    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"
    ffbin.ffmpeg_path.cache_clear()
    try:
        errors = check_ffmpeg(None)
        assert [e.id for e in errors] == ["clipstream.E002"]
        assert "FFMPEG_BINARY='/nonexistent/ffmpeg' is not an executable" in errors[0].msg
    finally:
        ffbin.ffmpeg_path.cache_clear()


# --- accounts, static, admin ----------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_up_logs_in_and_log_out_works(client):
    response = client.post(
        reverse("signup"), {"username": "carol", "password1": "a-Long-pass-9981", "password2": "a-Long-pass-9981"}
    )
    assert response.status_code == 302
    assert client.get(reverse("feed:home")).context["user"].username == "carol"
    client.post(reverse("logout"))
    assert not client.get(reverse("feed:home")).context["user"].is_authenticated


@pytest.mark.django_db
def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content


@pytest.mark.django_db
def test_static_files_are_served_by_whitenoise(client):
    response = client.get("/static/vendor/hls-1.7.4.light.min.js")
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]


@pytest.mark.django_db
def test_models_are_in_the_admin(admin_client):
    for name in ("feed/video", "feed/hashtag", "feed/user", "uploads/upload", "aigen/generationjob"):
        assert admin_client.get(f"/admin/{name}/").status_code == 200, name


# --- management commands ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_seed_demo_twice_creates_no_duplicates(capsys):
    call_command("seed_demo", count=1, seconds=2, with_users=True)
    first = capsys.readouterr().out
    call_command("seed_demo", count=1, seconds=2, with_users=True)
    assert Video.objects.count() == 1
    video = Video.objects.get()
    assert video.status == Video.Status.READY, video.error
    assert (video.width, video.height) == (1080, 1920)
    assert sorted(Rendition.objects.filter(video=video).values_list("height", flat=True)) == [360, 540, 720, 1080]
    assert User.objects.get(username="moderator").groups.filter(name="Moderators").exists()
    assert User.objects.get(username="demo").check_password("demo")
    assert "Seeded 1 demo video(s)" in first


@pytest.mark.django_db
def test_import_video_waits_and_prints_timings(small_clip, alice, capsys):
    call_command("import_video", str(small_clip), user="alice", caption="hello #world", wait=True, inline=True)
    out = capsys.readouterr().out
    video = Video.objects.get(owner=alice)
    assert video.status == Video.Status.READY
    assert f"video {video.pk} ready" in out and "transcode" in out
    assert list(video.hashtags.values_list("name", flat=True)) == ["world"]


def test_import_video_refuses_missing_file_in_one_line():
    result = _manage("import_video", "/nonexistent.mp4")
    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: No such file: /nonexistent.mp4"


def test_runstack_refuses_a_port_in_use_in_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _manage("runstack", "--port", str(port), "--no-seed")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"CommandError: Port {port} on 127.0.0.1 is in use. Stop what uses it or run: PORT=8001 make run"
    )


def test_runstack_refuses_an_unreachable_database_in_one_line():
    url = f"postgres://postgres@127.0.0.1:{_closed_port()}/nothing"
    result = _manage("runstack", "--port", str(_closed_port()), "--no-seed", env={"DATABASE_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"CommandError: Cannot reach the database ({url})")


@pytest.mark.slow
def test_runstack_serves_and_ctrl_c_stops_everything(tmp_path):
    """The `make run` entry point: web + workers + beat come up; SIGINT stops them all."""
    port = _closed_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "DEBUG": "1",
        # Its own Redis DB: its workers must not take tasks queued by other tests' stacks.
        "REDIS_URL": "redis://127.0.0.1:6379/14",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port), "--no-seed"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Clipstream is running at" in line or proc.poll() is not None:
                break
        assert any(f"http://127.0.0.1:{port}/" in line for line in lines), "".join(lines)
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
        ours = {
            "web": f"-p {port} config.asgi",
            "transcode worker": f"transcode-{port}@",
            "io worker": f"io-{port}@",
            "beat": f"{tmp_path}/celerybeat-schedule",
        }

        def running(pattern: str) -> bool:
            return bool(subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True).stdout.strip())

        deadline = time.monotonic() + 20
        while not all(running(p) for p in ours.values()) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert {name: running(p) for name, p in ours.items()} == dict.fromkeys(ours, True)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        time.sleep(0.5)
        assert {name: running(p) for name, p in ours.items()} == dict.fromkeys(ours, False)
    finally:
        if proc.poll() is None:  # a failed assertion: still stop the children it started
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.django_db
def test_viewer_can_hide_ai_videos_in_settings(client, alice):
    client.force_login(alice)
    assert client.get(reverse("settings")).status_code == 200
    response = client.post(reverse("settings"), {"bio": "hi", "hide_ai_videos": "on"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.hide_ai_videos is True and alice.bio == "hi"
    ai = Video.objects.create(owner=alice, status="ready", source_kind="ai", published_at="2026-01-01T00:00:00Z")
    human = Video.objects.create(owner=alice, status="ready", published_at="2026-01-01T00:00:00Z")
    assert list(Video.objects.for_viewer(alice)) == [human]
    alice.hide_ai_videos = False
    assert set(Video.objects.for_viewer(alice)) == {ai, human}


def test_settings_require_login(client):
    response = client.get(reverse("settings"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
