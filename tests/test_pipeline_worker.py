"""A real Celery worker killed (SIGKILL) mid-transcode: the broker re-delivers the task (acks_late),
the next worker takes over once the heartbeat is stale, and the video becomes ready exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest
from django.conf import settings

from feed.models import Rendition, Video
from tests.conftest import ROOT, _database_url
from tests.test_pipeline import make_video

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The worker is the real `celery worker`, with the broker's timers shortened so the test does not
# wait an hour: a message not acked within 4 s goes back to the queue, swept every second. In
# production the same happens after CELERY_VISIBILITY_TIMEOUT, and the beat sweeper re-queues
# stale transcodes sooner (uploads.tasks.sweep_stale_transcodes).
WORKER = """
import sys
from config.celery import app
app.conf.broker_transport_options = {
    "visibility_timeout": 4, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
}
app.worker_main(["worker", "-Q", sys.argv[1], "-n", sys.argv[2], "-P", "solo", "-c", "1",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"])
"""


class Worker:
    def __init__(self, queue: str, name: str, log: Path):
        if settings.EMBEDDED:
            pytest.skip("a real worker needs Redis")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": _database_url(),
            "CLIPSTREAM_TEST_DIR": str(Path(settings.MEDIA_ROOT).parent),
            "CELERY_EAGER": "0",
            "TRANSCODE_HEARTBEAT_STALE_SECONDS": "3",
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log
        # Own process group: killing it takes the worker and its ffmpeg, like a container dying.
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, queue, f"{name}@%h"],
            cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker did not start:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _wait_for(predicate, timeout: float, what: str, logs) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{logs()}")
        time.sleep(0.1)


def test_worker_killed_mid_transcode_is_redone_once_with_one_ladder(alice, fresh_clip, tmp_path):
    from config.celery import app

    queue = f"transcode-kill-{uuid.uuid4().hex[:8]}"  # no other worker on this Redis takes it
    video = make_video(alice, fresh_clip(seconds=10, width=540, height=960))
    first = Worker(queue, "first", tmp_path / "first.log")
    second = None
    try:
        first.wait_ready()
        with warnings.catch_warnings():  # the test settings make tasks eager; send_task still sends
            warnings.simplefilter("ignore")
            app.send_task("uploads.tasks.transcode_task", args=[video.pk], queue=queue)

        def mid_transcode() -> bool:
            v = Video.objects.get(pk=video.pk)
            return v.stage == "transcoding" and bool(v.preview_playlist)  # ffmpeg running, preview stored

        _wait_for(mid_transcode, 60, "the first worker to be mid-transcode", first.text)
        first.kill()
        # The worker and its ffmpeg are gone (the orphaned ffmpeg is reaped by init, not by us).
        _wait_for(lambda: not first.group_alive(), 10, "the killed worker's process group to vanish", first.text)
        killed = Video.objects.get(pk=video.pk)
        assert (killed.status, killed.transcode_attempts) == (Video.Status.PROCESSING, 1)
        assert not Rendition.objects.filter(video=video).exists()
        partial = Path(settings.MEDIA_ROOT) / f"videos/{video.pk}/a1"
        assert partial.is_dir()  # the killed attempt left a partial preview behind

        second = Worker(queue, "second", tmp_path / "second.log")
        second.wait_ready()
        _wait_for(
            lambda: Video.objects.get(pk=video.pk).status == Video.Status.READY,
            90,
            "the second worker to finish the video",
            lambda: second.text()[-4000:],
        )
        time.sleep(3)  # a duplicate delivery, if any, would show up as another attempt by now

        video.refresh_from_db()
        assert video.status == Video.Status.READY and video.transcode_attempts == 2
        assert Video.objects.filter(owner=alice).count() == 1
        renditions = list(video.renditions.all())
        assert [r.height for r in renditions] == [360, 540]
        assert all(r.playlist.startswith(f"videos/{video.pk}/a2/") for r in renditions)
        assert video.hls_master == f"videos/{video.pk}/a2/master.m3u8"
        assert (Path(settings.MEDIA_ROOT) / video.hls_master).is_file()
        # The dead attempt's files were removed once the redo was published (local storage keeps
        # the empty folders: the storage API has no rmdir).
        assert not [p for p in partial.rglob("*") if p.is_file()]
        assert second.text().count(f"video {video.pk} ready") == 1
        assert f"video {video.pk} ready" not in first.text()
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
