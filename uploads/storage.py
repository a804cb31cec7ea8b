"""Writing media through Django's storage API, with the headers HLS players and CDNs rely on.

Only the storage API is used, so the same code writes to local files or to S3 (django-storages).
The header rules live here once: the local media view sends them, and `uploads.s3_media`
stores them as object metadata (S3/CDN then send them).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import Storage

SEGMENT_SUFFIXES = (".m4s", ".ts", ".mp4")


def cache_control_for(name: str) -> str:
    """Segments and posters never change (a new attempt writes new paths); playlists do.

    A playlist is EVENT while the ladder encodes (the preview) and VOD once done, so players and
    CDNs must re-read it within a segment's length.
    """
    if name.endswith(".m3u8"):
        return "public, max-age=2"
    if name.endswith((*SEGMENT_SUFFIXES, ".jpg", ".webp")) and name.startswith("videos/"):
        return "public, max-age=31536000, immutable"
    return "private, max-age=60"


def content_type_for(name: str) -> str:
    # uploads.apps registers the HLS types (.m3u8, .m4s) that Python's table lacks.
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def save_file(storage: Storage, name: str, source: Path | bytes) -> None:
    """Store `source` under exactly `name`, replacing what is there."""
    if not getattr(storage, "file_overwrite", False) and storage.exists(name):
        storage.delete(name)  # FileSystemStorage would otherwise pick "name_abc123"
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    content = ContentFile(data)
    content.content_type = content_type_for(name)  # type: ignore[attr-defined]  # read by S3Storage
    saved = storage.save(name, content)
    if saved != name:
        raise RuntimeError(f"storage renamed {name!r} to {saved!r}")


def delete_tree(storage: Storage, prefix: str) -> int:
    """Delete every file under `prefix`; return how many."""
    try:
        dirs, files = storage.listdir(prefix)
    except FileNotFoundError:
        return 0
    count = 0
    for name in files:
        storage.delete(f"{prefix}/{name}")
        count += 1
    for sub in dirs:
        count += delete_tree(storage, f"{prefix}/{sub}")
    return count
