"""Upload views: thin — parse, call uploads.services / tus / s3, render.

Three ways in, one set of checks (services.ingest): the plain multipart form (works without
JavaScript), tus resumable uploads (the enhancement), and presigned S3 multipart when the site
stores media in S3.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from feed.models import Video
from uploads import handlers, s3, services, tus


def _page(
    request: HttpRequest, error: str = "", status: int = 200, state: dict | None = None, keep_form: bool = True
) -> HttpResponse:
    context = {
        "error": error,
        "state": state,
        # Echo the fields back after a refusal; never when that would make us parse the body.
        "form": request.POST if keep_form and request.method == "POST" else {},
        "visibilities": Video.Visibility.choices,
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        "max_seconds": settings.UPLOAD_MAX_SECONDS,
        "min_seconds": settings.UPLOAD_MIN_SECONDS,
        "use_s3": s3.enabled(),
    }
    return render(request, "uploads/upload.html", context, status=status)


# csrf_exempt + csrf_protect inside: the capped handler must be installed before anything reads
# request.POST, and CsrfViewMiddleware would read it first (Django's documented pattern).
@csrf_exempt
@login_required
def upload_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if handlers.declared_too_large(request):
            return _too_large(request)
        request.upload_handlers = [handlers.CappedUploadHandler(request)]
    return _upload_page(request)


def _too_large(request: HttpRequest) -> HttpResponse:
    message = f"The file is larger than {settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB."
    return _page(request, message, 413, keep_form=False)


@csrf_protect
def _upload_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        state = services.page_state(request.user, request.GET.get("video"))
        if request.GET.get("video") and state is None:
            raise Http404("No such upload")
        return _page(request, state=state)
    upload = request.FILES.get("file")  # parses the body through the capped handler
    if handlers.too_large(request):
        return _too_large(request)
    if upload is None:
        return _page(request, "Choose a video file to upload.", 400)
    try:
        video = services.ingest(
            request.user,
            Path(upload.temporary_file_path()),
            services.clean_filename(upload.name),
            services.parse_options(request.POST),
        )
    except services.IngestError as exc:
        return _page(request, str(exc), exc.status)
    finally:
        upload.close()
    return redirect(f"{request.path}?video={video.pk}")


# --- tus ----------------------------------------------------------------------------------------


def _tus_response(status: int, extra: dict[str, str] | None = None, message: str = "") -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    for key, value in {**tus.base_headers(), **(extra or {})}.items():
        response[key] = value
    return response


def _content_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    return int(raw) if raw and raw.isdigit() else None


def _result_headers(result: tus.Result) -> dict[str, str]:
    headers = {"Upload-Offset": str(result.upload.offset)}
    video = result.video or result.upload.video
    if video is not None:
        # Not part of tus: tells our client which video to follow on the websocket.
        headers["Clipstream-Video-Id"] = str(video.pk)
    return headers


def _tus(request: HttpRequest, call) -> HttpResponse:
    """Run one tus operation, turning refusals into tus responses with a readable body."""
    if not request.user.is_authenticated:
        return _tus_response(403, message="Sign in to upload.")
    if request.method == "OPTIONS":
        return _tus_response(204, tus.options_headers())
    try:
        tus.check_version(request.headers.get("Tus-Resumable"))
        return call()
    except tus.TusError as exc:
        return _tus_response(exc.status, message=str(exc))


@require_http_methods(["OPTIONS", "POST"])
def tus_create(request: HttpRequest) -> HttpResponse:
    def call() -> HttpResponse:
        result = tus.create(
            request.user,
            request.headers.get("Upload-Length"),
            request.headers.get("Upload-Metadata"),
            request,
            request.content_type,
            _content_length(request),
        )
        location = request.build_absolute_uri(f"{request.path}{result.upload.pk}/")
        return _tus_response(201, {"Location": location, **_result_headers(result)})

    return _tus(request, call)


@require_http_methods(["OPTIONS", "HEAD", "PATCH", "DELETE"])
def tus_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    def call() -> HttpResponse:
        if request.method == "HEAD":
            upload = tus.head(request.user, upload_id)
            return _tus_response(200, {"Upload-Length": str(upload.length), **_result_headers(tus.Result(upload))})
        if request.method == "DELETE":
            tus.terminate(request.user, upload_id)
            return _tus_response(204)
        result = tus.write(
            request.user,
            upload_id,
            request.headers.get("Upload-Offset"),
            request.content_type,
            request,
            _content_length(request),
        )
        return _tus_response(204, _result_headers(result))

    return _tus(request, call)


# --- direct to S3 ---------------------------------------------------------------------------------


def _json_error(exc: services.IngestError) -> JsonResponse:
    return JsonResponse({"error": str(exc)}, status=exc.status)


def _json_body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise services.IngestError("The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise services.IngestError("The request body is not valid JSON.")
    return data


@login_required
@require_http_methods(["POST"])
def s3_start(request: HttpRequest) -> JsonResponse:
    if not s3.enabled():
        raise Http404("Direct uploads are not enabled")
    try:
        data = _json_body(request)
        size = data.get("size")
        if not isinstance(size, int):
            raise services.IngestError("The file size is missing.")
        metadata = {k: str(v) for k, v in (data.get("metadata") or {}).items()}
        return JsonResponse(s3.start(request.user, str(data.get("filename") or ""), size, metadata), status=201)
    except services.IngestError as exc:
        return _json_error(exc)


@login_required
@require_http_methods(["POST", "DELETE"])
def s3_upload(request: HttpRequest, upload_id: str) -> JsonResponse:
    if not s3.enabled():
        raise Http404("Direct uploads are not enabled")
    try:
        if request.method == "DELETE":
            s3.abort(request.user, upload_id)
            return JsonResponse({}, status=200)
        video = s3.complete(request.user, upload_id, _json_body(request).get("parts"))
    except services.IngestError as exc:
        return _json_error(exc)
    return JsonResponse({"video_id": video.pk, "url": video.get_absolute_url()}, status=201)
