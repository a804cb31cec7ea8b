"""Streaming upload handler for the plain multipart form: a hard cap on the bytes we read.

Django's default handlers accept any size and spool it to disk. `CappedUploadHandler` counts the
file bytes as the parser streams them and stops reading the request the moment the cap is
passed (`StopUpload(connection_reset=True)`: the rest of the body is never read); the view then
answers 413. A declared Content-Length above the cap is refused before a single byte is read.

Under WSGI this bounds what the app reads from the socket. Under ASGI (daphne) the server and
Django's ASGIHandler buffer the body before the view runs, so there the cap bounds parsing and
disk use by the app, not the server's buffering (the resumable tus path is chunked anyway).
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

# Room for the form's other fields and the multipart boundaries (caption ≤ 2,200 chars of UTF-8).
FORM_OVERHEAD = 64 * 1024


def declared_too_large(request: HttpRequest) -> bool:
    """True when the Content-Length alone says the file cannot fit under the cap."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return declared > settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD


def too_large(request: HttpRequest) -> bool:
    """Set by the handler when it stopped the upload at the cap."""
    return getattr(request, "_upload_too_large", False)


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Writes the file to a temporary file, counting bytes; stops the request past the cap."""

    def __init__(self, request: HttpRequest | None = None, cap: int | None = None):
        super().__init__(request)
        self.cap = settings.UPLOAD_MAX_BYTES if cap is None else cap
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.cap:
            if self.request is not None:
                self.request._upload_too_large = True
            # connection_reset=True: the parser closes our temp file and reads no further.
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


class BodyTooLarge(Exception):
    pass


class BodyCapMiddleware:
    """ASGI wrapper for the HTTP app: cap request bodies on upload URLs before Django spools them.

    Django's ASGIHandler reads the whole body into a temp file before any view runs, so the
    handler above cannot stop it there. This refuses a declared Content-Length over the cap
    without reading, and stops a body (chunked or lying) as soon as it passes the cap.
    Wire it in config/asgi.py: `"http": BodyCapMiddleware(django_asgi_app)`.
    """

    def __init__(self, app, prefixes: tuple[str, ...] = ("/upload/",)):
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return await self.app(scope, receive, send)
        limit = settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _refuse(send)
        received = 0

        async def capped_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, capped_receive, send)
        except BodyTooLarge:
            await _refuse(send)


async def _refuse(send) -> None:
    mb = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
    body = f"The file is larger than {mb} MB.".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
