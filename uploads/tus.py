"""tus 1.0.0 resumable uploads (core + creation + creation-with-upload + termination).

Spec: https://tus.io/protocols/resumable-upload. The browser side is tus-js-client. Bytes land in
`Upload.work_path`; `Upload.offset` is the number of bytes we hold, so after an interruption the
client asks (HEAD) and continues from there (PATCH). When the last byte arrives the upload is
handed to `services.finish_upload()`, which ingests it like any other upload.

Invariants: the file never grows past the declared `Upload-Length` (itself capped at
UPLOAD_MAX_BYTES); PATCHes on one upload are serialised by the row lock; only the owner can see or
touch an upload (others get 404, as for a missing one).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from feed.models import Video
from uploads import services
from uploads.models import Upload

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination"
CHUNK_CONTENT_TYPE = "application/offset+octet-stream"
READ_SIZE = 1024 * 1024


class TusError(Exception):
    """A refused tus request: `status` is the HTTP status, `str(exc)` the message for the uploader."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass
class Result:
    upload: Upload
    video: Video | None = None  # set when this request delivered the last byte


def base_headers() -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store"}


def options_headers() -> dict[str, str]:
    return {
        **base_headers(),
        "Tus-Version": VERSION,
        "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(settings.UPLOAD_MAX_BYTES),
    }


def check_version(header: str | None) -> None:
    if header != VERSION:
        raise TusError(f"Unsupported tus version; this server speaks {VERSION}.", 412)


def parse_metadata(header: str | None) -> dict[str, str]:
    """`Upload-Metadata: key base64,key2 base64`: values are base64 of UTF-8 text."""
    result: dict[str, str] = {}
    for pair in (header or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(f"Upload-Metadata value for '{key[:40]}' is not valid base64 UTF-8.", 400)
    return result


def _int_header(value: str | None, name: str) -> int:
    if value is None or not value.strip().isdigit():
        raise TusError(f"{name} must be a non-negative integer.", 400)
    return int(value)


def create(
    owner,
    length_header: str | None,
    metadata_header: str | None,
    body: BinaryIO | None = None,
    content_type: str | None = None,
    content_length: int | None = None,
) -> Result:
    """POST: record a new upload (and, with creation-with-upload, take its first bytes)."""
    if length_header is None:
        raise TusError("Upload-Length is required (deferred length is not supported).", 400)
    length = _int_header(length_header, "Upload-Length")
    metadata = parse_metadata(metadata_header)
    try:
        upload = services.start_upload(owner, length, metadata.get("filename", ""), metadata, Upload.Backend.TUS)
    except services.IngestError as exc:
        raise TusError(str(exc), exc.status)
    upload.work_path.touch()
    if content_type == CHUNK_CONTENT_TYPE and content_length:
        return write(owner, str(upload.pk), "0", content_type, body, content_length)
    return Result(upload)


def head(owner, upload_id: str) -> Upload:
    upload = _access(owner, upload_id)
    if upload.status == Upload.Status.FAILED:
        # 410 makes tus clients start afresh instead of "resuming" a refused file as complete.
        raise TusError(_closed_message(upload), 410)
    return upload


def write(
    owner,
    upload_id: str,
    offset_header: str | None,
    content_type: str | None,
    body: BinaryIO | None,
    content_length: int | None,
) -> Result:
    """PATCH: append bytes at `Upload-Offset`; on the last byte, ingest."""
    if content_type != CHUNK_CONTENT_TYPE:
        raise TusError(f"Content-Type must be {CHUNK_CONTENT_TYPE}.", 415)
    offset = _int_header(offset_header, "Upload-Offset")
    _access(owner, upload_id)  # 404 before taking any lock
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        if upload.status != Upload.Status.RECEIVING:
            raise TusError(_closed_message(upload), 410 if upload.status == Upload.Status.FAILED else 409)
        if offset != upload.offset:
            raise TusError(f"Upload-Offset {offset} does not match the server's offset {upload.offset}.", 409)
        room = upload.length - upload.offset
        if content_length is not None and content_length > room:
            raise TusError("This chunk goes past the declared Upload-Length; nothing was written.", 413)
        written, overflow = _append(upload, body, room)
        upload.offset += written
        upload.save(update_fields=["offset", "updated_at"])
    if overflow:
        # Without a Content-Length we only learn of excess bytes while reading: keep what fits.
        raise TusError("More bytes were sent than the declared Upload-Length; the excess was refused.", 413)
    if upload.offset < upload.length:
        return Result(upload)
    return Result(upload, _finish(upload))


def terminate(owner, upload_id: str) -> None:
    """DELETE: drop the bytes and the record. An already ingested Video is not touched."""
    upload = _access(owner, upload_id)
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is not None:
            services.discard_upload(locked)


def _finish(upload: Upload) -> Video:
    # Claim: exactly one request (even two racing final PATCHes) runs the ingest.
    claimed = Upload.objects.filter(pk=upload.pk, status=Upload.Status.RECEIVING, offset=upload.length).update(
        status=Upload.Status.COMPLETE
    )
    if claimed != 1:
        raise TusError("This upload is already being processed.", 409)
    try:
        return services.finish_upload(upload)
    except services.IngestError as exc:
        # 422 rather than 409: tus clients retry 409, and a refused file will not get better.
        raise TusError(str(exc), 422 if exc.status == 409 else exc.status)


def _append(upload: Upload, body: BinaryIO | None, room: int) -> tuple[int, bool]:
    """Write at most `room` bytes from `body` at the upload's offset. Returns (written, overflow)."""
    if body is None:
        return 0, False
    written = 0
    with open(upload.work_path, "r+b") as fh:
        fh.seek(upload.offset)
        fh.truncate()  # bytes past the offset are from a chunk we never acknowledged
        while written < room:
            chunk = body.read(min(READ_SIZE, room - written))
            if not chunk:
                break
            fh.write(chunk)
            written += len(chunk)
    # One more byte tells a client that sent more than it declared; never more than that.
    return written, written == room and bool(body.read(1))


def _access(owner, upload_id: str) -> Upload:
    upload = services.access_upload(owner, upload_id, Upload.Backend.TUS)
    if upload is None:
        raise TusError("No such upload.", 404)
    if not upload.work_path.exists() and upload.status == Upload.Status.RECEIVING:
        raise TusError("This upload's data is gone; start it again.", 410)
    return upload


def _closed_message(upload: Upload) -> str:
    if upload.status == Upload.Status.FAILED:
        return upload.error or "This upload failed; start it again."
    return "This upload is complete."
