"""Direct-to-bucket uploads against moto's S3 server (a separate process on 127.0.0.1), through
the real boto3 client: the app signs, the "browser" (requests) PUTs the parts to the bucket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from django.test import Client

from feed.models import Video
from uploads import s3
from uploads.models import Upload

pytestmark = pytest.mark.django_db
BUCKET = "clipstream-test"


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "S3_UPLOAD_PART_MIN_SIZE": str(256 * 1024)}  # small parts keep the test fast
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=0.5)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def bucket(moto_url, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.USE_S3 = True
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = moto_url
    settings.AWS_S3_REGION_NAME = "us-east-1"
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    try:
        client.create_bucket(Bucket=BUCKET)
    except ClientError:
        pass  # made by an earlier test in this module
    return client


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def post_json(client, url: str, data: dict):
    return client.post(url, json.dumps(data), content_type="application/json")


def put_parts(plan: dict, data: bytes) -> list[dict]:
    """What upload.js does: slice the file, PUT each slice to its presigned URL, keep the ETags."""
    parts = []
    for part in plan["parts"]:
        start = (part["number"] - 1) * plan["part_size"]
        response = requests.put(part["url"], data=data[start : start + plan["part_size"]], timeout=10)
        assert response.status_code == 200, response.text
        parts.append({"number": part["number"], "etag": response.headers["ETag"]})
    return parts


def test_browser_sends_parts_straight_to_the_bucket_then_the_app_ingests(
    alice_client, alice, bucket, moto_url, small_clip, monkeypatch
):
    monkeypatch.setattr(s3, "PART_SIZE", 256 * 1024)
    data = small_clip.read_bytes()
    started = post_json(
        alice_client,
        "/upload/s3/",
        {
            "filename": "from-phone.mp4",
            "size": len(data),
            "metadata": {"caption": "Direct #s3", "visibility": "public"},
        },
    )
    assert started.status_code == 201, started.content
    plan = started.json()
    assert len(plan["parts"]) == -(-len(data) // (256 * 1024)) > 1
    assert all(p["url"].startswith(f"{moto_url}/{BUCKET}/incoming/{alice.pk}/") for p in plan["parts"])

    parts = put_parts(plan, data)
    done = post_json(alice_client, f"/upload/s3/{plan['upload_id']}/", {"parts": parts})
    assert done.status_code == 201, done.content
    video = Video.objects.get(pk=done.json()["video_id"])
    assert done.json()["url"] == f"/v/{video.pk}/"
    assert video.source_size == len(data)
    assert video.source_name == "from-phone.mp4"
    assert list(video.hashtags.values_list("name", flat=True)) == ["s3"]
    with video.source_file.open("rb") as fh:
        assert fh.read() == data  # the bytes that went to the bucket, reassembled in order
    upload = Upload.objects.get()
    assert (upload.status, upload.video, upload.backend) == (Upload.Status.INGESTED, video, "s3")
    assert not upload.work_path.exists()
    with pytest.raises(ClientError):  # the incoming object is cleaned up
        bucket.head_object(Bucket=BUCKET, Key=upload.s3_key)


def test_too_big_is_refused_before_anything_is_signed(alice_client, bucket):
    response = post_json(alice_client, "/upload/s3/", {"filename": "big.mp4", "size": 51 * 1024 * 1024})
    assert response.status_code == 413
    assert "larger than 50 MB" in response.json()["error"]
    assert not Upload.objects.exists()
    assert bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_object_bigger_than_announced_is_refused_and_removed(alice_client, bucket, small_clip, caplog):
    data = small_clip.read_bytes()
    plan = post_json(alice_client, "/upload/s3/", {"filename": "a.mp4", "size": 1000}).json()
    parts = put_parts({**plan, "part_size": len(data)}, data)  # a client that lies about the size
    response = post_json(alice_client, f"/upload/s3/{plan['upload_id']}/", {"parts": parts})
    assert response.status_code == 400
    assert "not the 1000 announced" in response.json()["error"]
    assert not Video.objects.exists()
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.FAILED
    with pytest.raises(ClientError):
        bucket.head_object(Bucket=BUCKET, Key=upload.s3_key)
    assert all(r.exc_info is None for r in caplog.records)


def test_bad_video_in_the_bucket_gets_the_same_checks(alice_client, bucket):
    data = b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n"
    plan = post_json(alice_client, "/upload/s3/", {"filename": "evil.mp4", "size": len(data)}).json()
    response = post_json(alice_client, f"/upload/s3/{plan['upload_id']}/", {"parts": put_parts(plan, data)})
    assert response.status_code == 400
    assert "playlist, not a video" in response.json()["error"]
    assert not Video.objects.exists()


def test_other_users_cannot_complete_or_abort(alice_client, bob, bucket):
    plan = post_json(alice_client, "/upload/s3/", {"filename": "a.mp4", "size": 1000}).json()
    other = Client()
    other.force_login(bob)
    assert post_json(other, f"/upload/s3/{plan['upload_id']}/", {"parts": []}).status_code == 404
    assert other.delete(f"/upload/s3/{plan['upload_id']}/").status_code == 404
    assert alice_client.delete(f"/upload/s3/{plan['upload_id']}/").status_code == 200
    assert not Upload.objects.exists()
    assert bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_direct_upload_endpoints_are_off_without_s3(alice_client, settings):
    settings.USE_S3 = False
    assert post_json(alice_client, "/upload/s3/", {"filename": "a.mp4", "size": 10}).status_code == 404
