"""Upload views: thin — parse, call uploads.services, render."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from uploads import services


@login_required
def upload_page(request: HttpRequest) -> HttpResponse:
    error = ""
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, status = "Choose a video file to upload.", 400
        else:
            with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix[:8]) as tmp:
                for chunk in upload.chunks():
                    tmp.write(chunk)
                tmp.flush()
                try:
                    video = services.ingest(
                        request.user,
                        Path(tmp.name),
                        upload.name,
                        services.IngestOptions(caption=request.POST.get("caption", "")),
                    )
                except services.IngestError as exc:
                    error, status = str(exc), exc.status
                else:
                    return redirect(f"{request.path}?video={video.pk}")
    return render(request, "uploads/upload.html", {"error": error}, status=status)
