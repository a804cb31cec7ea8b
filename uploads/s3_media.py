"""S3 storage (django-storages) that stores Content-Type and Cache-Control with every object.

Selected by config/settings.py when AWS_STORAGE_BUCKET_NAME is set. S3 (and a CDN in front)
then answer with the same headers the local media view sends: immutable segments, short-lived
playlists, HLS MIME types.
"""

from __future__ import annotations

from storages.backends.s3 import S3Storage

from uploads.storage import cache_control_for, content_type_for


class MediaS3Storage(S3Storage):
    def get_object_parameters(self, name: str) -> dict:
        params = super().get_object_parameters(name)
        params.setdefault("ContentType", content_type_for(name))
        params.setdefault("CacheControl", cache_control_for(name))
        return params
