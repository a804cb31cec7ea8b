"""Serving local media (FileSystemStorage) with the headers HLS players and CDNs rely on.

In production media goes to S3 behind a CDN and this view is not mounted (SERVE_MEDIA=0); the
same Cache-Control rules are then set as object metadata at upload time (uploads.storage).
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils.http import http_date
from django.views.decorators.http import require_http_methods

from uploads.storage import cache_control_for, content_type_for

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@require_http_methods(["GET", "HEAD"])
def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    root = Path(settings.MEDIA_ROOT).resolve()
    full = (root / path).resolve()
    if root not in full.parents or not full.is_file():
        raise Http404("Not found")
    if path.startswith("sources/") and not request.user.is_staff:
        raise Http404("Not found")  # originals are private to the pipeline and moderators
    stat = full.stat()
    size = stat.st_size
    headers = {
        "Cache-Control": cache_control_for(path),
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(stat.st_mtime),
        "Access-Control-Allow-Origin": "*",
    }
    ctype = content_type_for(path)
    status, start, length = 200, 0, size
    match = RANGE.match(request.headers.get("Range", "").strip())
    if match and (match[1] or match[2]):
        if match[1]:
            start = int(match[1])
            end = min(int(match[2]), size - 1) if match[2] else size - 1
        else:  # suffix range: the last N bytes
            start, end = max(size - int(match[2]), 0), size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416, content_type=ctype)
            response["Content-Range"] = f"bytes */{size}"
            return _with_headers(response, headers)
        status, length = 206, end - start + 1
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=ctype)  # headers only, the file stays shut
    else:
        fh = open(full, "rb")  # noqa: SIM115 (closed by _limited when the response is consumed or closed)
        fh.seek(start)
        response = FileResponse(_limited(fh, length), status=status, content_type=ctype)
    response["Content-Length"] = str(length)
    return _with_headers(response, headers)


def _with_headers(response: HttpResponse, headers: dict[str, str]) -> HttpResponse:
    for key, value in headers.items():
        response[key] = value
    return response


def _limited(fh, length: int, chunk: int = 64 * 1024):
    try:
        remaining = length
        while remaining > 0:
            data = fh.read(min(chunk, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        fh.close()
