"""Bad input on both paths (plain multipart and tus): a clear message, a 4xx, no traceback in the
log, and nothing already stored is lost."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from feed.models import Video
from tests.conftest import render_test_clip
from tests.test_upload_tus import TUS, tus_create, tus_send
from uploads.ffbin import ffmpeg_path
from uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def bad_files(clip_dir, small_clip) -> dict[str, Path]:
    d = clip_dir / "bad"
    d.mkdir()
    files = {}

    def write(name: str, data: bytes) -> Path:
        (d / name).write_bytes(data)
        return d / name

    files["not_video"] = write("holiday.mp4", b"This is a text file, not a video at all.\n" * 200)
    data = small_clip.read_bytes()
    files["truncated"] = write("truncated.mp4", data[: len(data) // 2])
    files["empty"] = write("empty.mp4", b"")
    files["playlist"] = write(
        "sneaky.mp4", b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    )
    files["too_long"] = render_test_clip(d / "long.mp4", seconds=61, width=96, height=160, fps=5, audio=False)
    files["fps240"] = render_test_clip(d / "fast.mp4", seconds=1.5, width=128, height=128, fps=240, audio=False)
    files["8k"] = render_test_clip(d / "huge.mp4", seconds=2, width=7680, height=4320, fps=1, audio=False)
    audio = d / "song.mp4"
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=3",
         "-c:a", "aac", str(audio)],
        check=True, timeout=60,
    )  # fmt: skip
    files["audio_only"] = audio
    return files


BAD = [
    ("not_video", 400, "not a video file we can read"),
    ("truncated", 400, "damaged or incomplete"),
    ("empty", 400, "The file is empty"),
    ("playlist", 400, "playlist, not a video"),
    ("too_long", 400, "the limit is 60 s"),
    ("fps240", 400, "240 fps is more than we accept"),
    ("8k", 400, "7680x4320 is too large"),
    ("audio_only", 400, "no video track"),
]


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def earlier_video(alice):
    """Something alice already has: a refused upload must not touch it."""
    video = Video.objects.create(owner=alice, status=Video.Status.READY, caption="keep me", source_sha256="a" * 64)
    video.source_file.save("earlier.mp4", ContentFile(b"earlier bytes"))
    return video


def assert_clean_refusal(response, status: int, text: str, caplog, earlier: Video) -> None:
    body = response.content.decode()
    assert response.status_code == status, body[:500]
    assert text in body
    assert "Traceback" not in body
    for record in caplog.records:
        assert record.exc_info is None, f"traceback logged: {record.getMessage()}"
        assert record.levelno < logging.ERROR, record.getMessage()
    assert list(Video.objects.values_list("pk", flat=True)) == [earlier.pk]
    earlier.refresh_from_db()
    assert earlier.caption == "keep me"
    assert earlier.source_file.storage.exists(earlier.source_file.name)


@pytest.mark.parametrize(("kind", "status", "text"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_by_plain_post_is_refused_cleanly(kind, status, text, alice_client, bad_files, earlier_video, caplog):
    caplog.set_level(logging.INFO)
    with open(bad_files[kind], "rb") as fh:
        response = alice_client.post("/upload/", {"file": fh, "caption": "bad"})
    assert_clean_refusal(response, status, text, caplog, earlier_video)


@pytest.mark.parametrize(("kind", "status", "text"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_by_tus_is_refused_cleanly(kind, status, text, alice_client, bad_files, earlier_video, caplog):
    caplog.set_level(logging.INFO)
    response = tus_send(alice_client, bad_files[kind].read_bytes(), filename=bad_files[kind].name)
    assert_clean_refusal(response, status, text, caplog, earlier_video)
    for upload in Upload.objects.all():  # the refused bytes do not linger on disk
        assert upload.status == Upload.Status.FAILED
        assert not upload.work_path.exists()


def test_51_mb_by_tus_is_refused_before_any_byte(alice_client, earlier_video, caplog):
    response = tus_create(alice_client, 51 * 1024 * 1024, filename="big.mp4")
    assert_clean_refusal(response, 413, "larger than 50 MB", caplog, earlier_video)
    assert not Upload.objects.exists()


def test_51_mb_by_plain_post_is_refused(alice_client, earlier_video, caplog, tmp_path):
    big = tmp_path / "big.mp4"
    with open(big, "wb") as fh:  # sparse: 51 MB of zeros that take no disk space
        fh.truncate(51 * 1024 * 1024)
    with open(big, "rb") as fh:
        response = alice_client.post("/upload/", {"file": fh})
    assert_clean_refusal(response, 413, "larger than 50 MB", caplog, earlier_video)


def test_second_upload_while_the_first_is_processing_is_a_conflict(
    alice_client, alice, small_clip, earlier_video, caplog
):
    Video.objects.filter(pk=earlier_video.pk).update(status=Video.Status.PROCESSING)
    with open(small_clip, "rb") as fh:
        response = alice_client.post("/upload/", {"file": fh})
    assert_clean_refusal(response, 409, "still processing", caplog, earlier_video)
    response = tus_create(alice_client, small_clip.stat().st_size, filename="next.mp4")
    assert_clean_refusal(response, 409, "still processing", caplog, earlier_video)
    assert not Upload.objects.exists()


TRAVERSAL = "../../../etc/cron.d/Ünïcødé 視頻 clip.mp4"


def test_path_traversal_and_unicode_name_by_tus_keeps_only_the_name(alice_client, small_clip, settings):
    response = tus_send(alice_client, small_clip.read_bytes(), filename=TRAVERSAL)
    assert response.status_code == 204
    video = Video.objects.get(pk=int(response["Clipstream-Video-Id"]))
    assert video.source_name == "Ünïcødé 視頻 clip.mp4"
    stored = Path(video.source_file.path).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert "etc" not in stored.parts and "cron.d" not in stored.parts


def test_path_traversal_and_unicode_name_by_plain_post_keeps_only_the_name(alice_client, small_clip, settings):
    boundary = "XyZboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="..\\..\\{TRAVERSAL}"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + small_clip.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = alice_client.generic("POST", "/upload/", body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 302, response.content[:300]
    video = Video.objects.get()
    assert video.source_name == "Ünïcødé 視頻 clip.mp4"
    assert Path(video.source_file.path).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())


def test_a_name_that_is_only_a_path_is_refused(alice_client, earlier_video, caplog):
    response = tus_create(alice_client, 1000, filename="../..")
    assert_clean_refusal(response, 400, "file name is not valid", caplog, earlier_video)
    response = alice_client.generic(
        "POST", "/upload/tus/", b"", HTTP_UPLOAD_LENGTH="1000", HTTP_UPLOAD_METADATA="filename !!!", **TUS
    )
    assert_clean_refusal(response, 400, "not valid base64", caplog, earlier_video)
