"""The transcode output through django-storages S3Storage, against moto's S3 server on this machine."""

from __future__ import annotations

import json
import socket
import urllib.request

import boto3
import pytest
from django.core.files.storage import default_storage

from feed.models import Video
from tests.test_pipeline import make_video
from uploads import pipeline
from uploads.hls import parse_media

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

BUCKET = "clipstream-test"
IMMUTABLE = "public, max-age=31536000, immutable"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, settings, monkeypatch):
    """default_storage is S3 (our subclass, as config/settings.py picks it) on a fresh bucket."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    # Public reads, as behind a CDN: players fetch segments by plain URL (AWS_QUERYSTRING_AUTH off).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
        ],
    }
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "uploads.s3_media.MediaS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "querystring_auth": False,
                "default_acl": None,
                "file_overwrite": True,
            },
        },
    }
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_transcode_writes_the_ladder_to_s3_with_types_and_cache_headers(alice, fresh_clip, s3):
    video = make_video(alice, fresh_clip(seconds=3, width=360, height=640))
    assert s3.head_object(Bucket=BUCKET, Key=video.source_file.name)  # the original went to the bucket too

    pipeline.transcode_video(video.pk)
    video.refresh_from_db()
    assert video.status == Video.Status.READY, video.error

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"videos/{video.pk}/")["Contents"]}
    prefix = f"videos/{video.pk}/a1"
    playlist = parse_media(s3.get_object(Bucket=BUCKET, Key=f"{prefix}/360/index.m3u8")["Body"].read().decode())
    expected = {
        f"{prefix}/master.m3u8",
        f"{prefix}/poster.jpg",
        f"{prefix}/360/index.m3u8",
        f"{prefix}/360/{playlist.init}",
    }
    expected |= {f"{prefix}/360/{uri}" for _, uri in playlist.segments}
    assert keys == expected  # nothing else: no renamed duplicates, no temp files
    assert len(playlist.segments) == 2

    def head(key: str) -> tuple[str, str]:
        meta = s3.head_object(Bucket=BUCKET, Key=key)
        return meta["ContentType"], meta["CacheControl"]

    assert head(f"{prefix}/master.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=2")
    assert head(f"{prefix}/360/index.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=2")
    for _, uri in playlist.segments:
        assert head(f"{prefix}/360/{uri}") == ("video/iso.segment", IMMUTABLE)
    assert head(f"{prefix}/360/{playlist.init}") == ("video/mp4", IMMUTABLE)
    assert head(f"{prefix}/poster.jpg") == ("image/jpeg", IMMUTABLE)

    # What a browser gets from the bucket's URL (a CDN would pass these headers on).
    with urllib.request.urlopen(video.master_url) as response:  # noqa: S310 (local moto server)
        assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert b"RESOLUTION=360x640" in response.read()
    assert default_storage.url(video.preview_playlist).startswith(s3.meta.endpoint_url)


def test_retry_replaces_the_ladder_and_removes_the_old_attempt(
    alice, fresh_clip, s3, django_capture_on_commit_callbacks
):
    from uploads.services import requeue_transcode

    video = make_video(alice, fresh_clip(seconds=2, width=360, height=640))
    pipeline.transcode_video(video.pk)
    requeue_transcode(video, queue=False)
    with django_capture_on_commit_callbacks(execute=True):  # the old tree goes once the new one is committed
        pipeline.transcode_video(video.pk)
    video.refresh_from_db()
    assert video.status == Video.Status.READY and video.hls_master == f"videos/{video.pk}/a2/master.m3u8"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"videos/{video.pk}/")["Contents"]}
    assert keys and all(k.startswith(f"videos/{video.pk}/a2/") for k in keys)
    assert video.renditions.count() == 1
