"""Direct-to-bucket uploads: the browser PUTs the bytes to S3 with presigned multipart URLs.

The app only signs and bookkeeps; it never proxies the bytes. Flow:
`start()` (validate what is declared, create_multipart_upload, sign one URL per part) → browser
PUTs each part and collects ETags → `complete()` (complete_multipart_upload, check the stored
size, pull the object to local work space with a hard cap, ingest, delete the incoming object).
`abort()` drops a started upload. The bucket needs CORS allowing PUT from the site and exposing
the `ETag` header.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction

from feed.models import Video
from uploads import services
from uploads.models import Upload
from uploads.services import IngestError

log = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024  # S3 needs ≥ 5 MB for every part but the last; 50 MB → 7 parts
URL_TTL_S = 3600
PULL_CHUNK = 1024 * 1024


def enabled() -> bool:
    return bool(getattr(settings, "USE_S3", False))


def client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=getattr(settings, "AWS_S3_ENDPOINT_URL", None) or None,
        region_name=getattr(settings, "AWS_S3_REGION_NAME", None) or "us-east-1",
        config=Config(signature_version="s3v4", retries={"max_attempts": 3}),
    )


def _bucket() -> str:
    return settings.AWS_STORAGE_BUCKET_NAME


def start(owner, filename: str, size: int, metadata: Mapping[str, str]) -> dict[str, Any]:
    """Validate the declared upload, open a multipart upload and sign a URL for each part."""
    upload = services.start_upload(owner, size, filename, metadata, Upload.Backend.S3)
    key = f"incoming/{owner.pk}/{upload.pk}"
    s3 = client()
    try:
        created = s3.create_multipart_upload(Bucket=_bucket(), Key=key)
    except (ClientError, BotoCoreError):
        log.warning("create_multipart_upload failed for %s", key, exc_info=True)
        upload.delete()
        raise IngestError("Storage is not available right now; try again in a minute.", 503)
    upload.s3_key, upload.s3_upload_id = key, created["UploadId"]
    upload.save(update_fields=["s3_key", "s3_upload_id"])
    count = max(1, math.ceil(size / PART_SIZE))
    parts = [
        {
            "number": n,
            "url": s3.generate_presigned_url(
                "upload_part",
                Params={"Bucket": _bucket(), "Key": key, "UploadId": upload.s3_upload_id, "PartNumber": n},
                ExpiresIn=URL_TTL_S,
            ),
        }
        for n in range(1, count + 1)
    ]
    return {"upload_id": str(upload.pk), "part_size": PART_SIZE, "parts": parts}


def complete(owner, upload_id: str, parts: Any) -> Video:
    """Close the multipart upload, check it, pull it (hard cap) and ingest it."""
    upload = services.access_upload(owner, upload_id, Upload.Backend.S3)
    if upload is None:
        raise IngestError("No such upload.", 404)
    etags = _clean_parts(parts, math.ceil(upload.length / PART_SIZE) or 1)
    # Claim first: a double-clicked "complete" must not ingest twice.
    if Upload.objects.filter(pk=upload.pk, status=Upload.Status.RECEIVING).update(status=Upload.Status.COMPLETE) != 1:
        raise IngestError("This upload is already complete.", 409)
    s3 = client()
    try:
        try:
            s3.complete_multipart_upload(
                Bucket=_bucket(),
                Key=upload.s3_key,
                UploadId=upload.s3_upload_id,
                MultipartUpload={"Parts": etags},
            )
            size = s3.head_object(Bucket=_bucket(), Key=upload.s3_key)["ContentLength"]
        except (ClientError, BotoCoreError) as exc:
            log.info("complete_multipart_upload refused for %s: %s", upload.pk, exc)
            raise IngestError("The upload to storage did not finish (a part is missing); try again.")
        if size != upload.length:
            raise IngestError(f"The stored file is {size} bytes, not the {upload.length} announced.")
        _pull(s3, upload)
        return services.finish_upload(upload)
    except IngestError as exc:
        Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.FAILED, error=str(exc))
        upload.work_path.unlink(missing_ok=True)
        raise
    finally:
        _delete_incoming(s3, upload)


def abort(owner, upload_id: str) -> None:
    upload = services.access_upload(owner, upload_id, Upload.Backend.S3)
    if upload is None:
        raise IngestError("No such upload.", 404)
    s3 = client()
    if upload.status == Upload.Status.RECEIVING and upload.s3_upload_id:
        try:
            s3.abort_multipart_upload(Bucket=_bucket(), Key=upload.s3_key, UploadId=upload.s3_upload_id)
        except (ClientError, BotoCoreError):
            log.info("abort_multipart_upload failed for %s (already gone?)", upload.pk)
    with transaction.atomic():
        services.discard_upload(upload)


def _clean_parts(parts: Any, expected: int) -> list[dict[str, Any]]:
    if not isinstance(parts, list) or not 0 < len(parts) <= expected:
        raise IngestError("The list of uploaded parts is not valid.")
    clean = []
    for part in parts:
        number = part.get("number") if isinstance(part, dict) else None
        etag = part.get("etag") if isinstance(part, dict) else None
        if not isinstance(number, int) or not 1 <= number <= expected or not isinstance(etag, str) or len(etag) > 200:
            raise IngestError("The list of uploaded parts is not valid.")
        clean.append({"PartNumber": number, "ETag": etag})
    return sorted(clean, key=lambda p: p["PartNumber"])


def _pull(s3, upload: Upload) -> None:
    """Stream the object to `upload.work_path`; the Range header bounds what S3 can send us."""
    cap = settings.UPLOAD_MAX_BYTES
    upload.work_path.parent.mkdir(parents=True, exist_ok=True)
    obj = s3.get_object(Bucket=_bucket(), Key=upload.s3_key, Range=f"bytes=0-{cap}")
    received = 0
    with open(upload.work_path, "wb") as fh:
        for chunk in obj["Body"].iter_chunks(PULL_CHUNK):
            received += len(chunk)
            if received > cap:
                obj["Body"].close()
                raise IngestError(f"The file is larger than {cap // (1024 * 1024)} MB.", 413)
            fh.write(chunk)


def _delete_incoming(s3, upload: Upload) -> None:
    try:
        s3.delete_object(Bucket=_bucket(), Key=upload.s3_key)
    except (ClientError, BotoCoreError):
        log.info("could not delete incoming object %s", upload.s3_key)
