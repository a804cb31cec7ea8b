"""Feed views: thin — parse, call feed.services, render."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from feed import services
from feed.cursor import BadCursor, Cursor
from feed.models import User


def _player_config() -> dict:
    return {"poolSize": max(3, min(settings.PLAYER_POOL_SIZE, 5))}


def _render_feed(request: HttpRequest, page: services.FeedPage, **extra) -> HttpResponse:
    first = page.videos[0] if page.videos else None
    context = {
        "page": page,
        "player": _player_config(),
        "liked": services.liked_ids(request.user, page.videos),
        "low_start": services.low_rung_start(first) if first else [],
        **extra,
    }
    return render(request, "feed/feed.html", context)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _render_feed(request, services.feed_page(request.user))


@require_GET
def video_detail(request: HttpRequest, video_id: int) -> HttpResponse:
    """Deep link: this video first, then the feed continues from it."""
    video = services.access_video(request.user, video_id)
    if video is None:
        raise Http404("No such video")
    if video.published_at:
        page = services.feed_page(request.user, Cursor(video.published_at, video.pk))
        page.videos.insert(0, video)
    else:  # the owner's own unpublished or private video: play it alone
        page = services.FeedPage([video], None)
    return _render_feed(request, page, deep_link=video)


@require_GET
def feed_page(request: HttpRequest) -> HttpResponse:
    """The next cards as an HTML fragment for HTMX."""
    token = request.GET.get("cursor", "")
    try:
        cursor = Cursor.decode(token) if token else None
    except BadCursor:
        return HttpResponseBadRequest("Invalid cursor")
    page = services.feed_page(request.user, cursor)
    liked = services.liked_ids(request.user, page.videos)
    return render(request, "feed/_cards.html", {"page": page, "liked": liked})


# Beacons carry no CSRF header, and this endpoint only appends viewing telemetry (no state a
# forged request could abuse beyond what an anonymous visitor may already record), so CSRF is off.
@csrf_exempt
@require_POST
def watch_events(request: HttpRequest) -> HttpResponse:
    """sendBeacon target: `{"events": [{id, watchedMs, completed, loops, skipped}, ...]}`."""
    if len(request.body) > 64 * 1024:
        return HttpResponse(status=413)
    try:
        payload = json.loads(request.body or b"{}")
        events = payload.get("events", [])
        if not isinstance(events, list):
            raise ValueError
    except (ValueError, AttributeError):
        return HttpResponseBadRequest("Expected JSON {events: [...]}")
    stored = services.record_watch_events(request.user, request.session.session_key or "", events)
    return JsonResponse({"stored": stored})


@login_required
@require_POST
def like(request: HttpRequest, video_id: int) -> HttpResponse:
    video = services.access_video(request.user, video_id)
    if video is None:
        raise Http404("No such video")
    liked, count = services.toggle_like(request.user, video)
    return JsonResponse({"liked": liked, "likes": count})


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("feed:home")
    return render(request, "registration/signup.html", {"form": form})


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)
