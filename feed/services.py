"""Viewer-side operations: the feed page, captions and hashtags, likes, watch events."""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from feed.cursor import Cursor
from feed.models import Hashtag, Like, Video, WatchEvent

HASHTAG = re.compile(r"(?<![\w#])#(\w{1,100})", re.UNICODE)


def parse_hashtags(caption: str) -> list[str]:
    seen: dict[str, None] = {}
    for tag in HASHTAG.findall(caption or ""):
        seen.setdefault(tag.lower(), None)
    return list(seen)[:30]


def set_caption(video: Video, caption: str) -> None:
    """Save the caption and link its hashtags (caller may hold a transaction)."""
    video.caption = (caption or "").strip()[:2200]
    video.save(update_fields=["caption"])
    names = parse_hashtags(video.caption)
    tags = []
    for name in names:
        tag, _ = Hashtag.objects.get_or_create(name=name)
        tags.append(tag)
    video.hashtags.set(tags)


@dataclass
class FeedPage:
    videos: list[Video]
    next_cursor: str | None


def feed_queryset(user):
    return (
        Video.objects.for_viewer(user)
        .select_related("owner")
        .only(
            "id",
            "caption",
            "duration",
            "width",
            "height",
            "poster",
            "placeholder",
            "hls_master",
            "source_kind",
            "like_count",
            "comment_count",
            "published_at",
            "owner__username",
        )  # fmt: skip
        .order_by("-published_at", "-id")
    )


def feed_page(user, cursor: Cursor | None = None, size: int | None = None, exclude: Iterable[int] = ()) -> FeedPage:
    """One page of the chronological feed after `cursor` (keyset on published_at, id)."""
    size = size or settings.FEED_PAGE_SIZE
    qs = feed_queryset(user)
    if cursor is not None:
        qs = qs.filter(Q(published_at__lt=cursor.published_at) | Q(published_at=cursor.published_at, id__lt=cursor.id))
    exclude = list(exclude)
    if exclude:
        qs = qs.exclude(id__in=exclude)
    videos = list(qs[: size + 1])
    has_more = len(videos) > size
    videos = videos[:size]
    next_cursor = Cursor(videos[-1].published_at, videos[-1].id).encode() if has_more and videos else None
    return FeedPage(videos, next_cursor)


def liked_ids(user, videos: Iterable[Video]) -> set[int]:
    """Which of `videos` the user likes: one query for a signed-in user, none for a visitor."""
    ids = [v.pk for v in videos]
    if not ids or not getattr(user, "is_authenticated", False):
        return set()
    return set(Like.objects.filter(user=user, video_id__in=ids).values_list("video_id", flat=True))


STREAM_INF = re.compile(r"#EXT-X-STREAM-INF:[^\n]*?RESOLUTION=(\d+)x(\d+)[^\n]*\n+([^#\s][^\n]*)")
MAP_URI = re.compile(r'#EXT-X-MAP:URI="([^"]+)"')


def low_rung_start(video: Video, max_short_edge: int = 360) -> list[str]:
    """URLs a slow client needs for its first frame: the low rung's playlist, init and first segment.

    The page preloads them on 3G/Save-Data so they download beside hls.js instead of after it.
    Read from the (immutable) playlists once, then cached; [] when the ladder cannot be read.
    """
    if not video.hls_master:
        return []
    key = f"feed:lowstart:{video.pk}:{video.hls_master}"
    paths = cache.get(key)
    if paths is None:
        paths = _low_rung_paths(video.hls_master, max_short_edge)
        cache.set(key, paths, 24 * 3600)
    return [default_storage.url(p) for p in paths]


def _low_rung_paths(master: str, max_short_edge: int) -> list[str]:
    try:
        with default_storage.open(master) as fh:
            text = fh.read(64 * 1024).decode("utf-8", "replace")
        rungs = [(min(int(w), int(h)), uri.strip()) for w, h, uri in STREAM_INF.findall(text)]
        if not rungs:
            return []
        fitting = [r for r in rungs if r[0] <= max_short_edge]
        _edge, uri = max(fitting) if fitting else min(rungs)
        playlist = posixpath.normpath(posixpath.join(posixpath.dirname(master), uri))
        with default_storage.open(playlist) as fh:
            level = fh.read(256 * 1024).decode("utf-8", "replace")
    except (OSError, ValueError):
        return []
    base = posixpath.dirname(playlist)
    out = [playlist]
    init = MAP_URI.search(level)
    if init:
        out.append(posixpath.join(base, init.group(1)))
    first = next((ln.strip() for ln in level.splitlines() if ln.strip() and not ln.startswith("#")), None)
    if first:
        out.append(posixpath.join(base, first))
    if any("://" in p or p.startswith("/") or ".." in p.split("/") for p in out):
        return []  # only files of this ladder
    return out


def cursor_after(video: Video) -> str:
    return Cursor(video.published_at, video.id).encode()


def access_video(user, video_id: int) -> Video | None:
    """The video if `user` may watch it: public/unlisted ready videos, or any of one's own."""
    video = Video.objects.select_related("owner").filter(pk=video_id).first()
    if video is None:
        return None
    if getattr(user, "is_authenticated", False) and video.owner_id == user.pk:
        return video
    if video.status != Video.Status.READY or video.moderation != Video.Moderation.VISIBLE:
        return None
    if video.visibility == Video.Visibility.PRIVATE:
        return None
    return video


def toggle_like(user, video: Video) -> tuple[bool, int]:
    """Like or unlike; returns (liked, new count). Counter moves with F() under the unique pair."""
    with transaction.atomic():
        deleted, _ = Like.objects.filter(user=user, video=video).delete()
        if deleted:
            Video.objects.filter(pk=video.pk).update(like_count=F("like_count") - 1)
            liked = False
        else:
            try:
                with transaction.atomic():
                    Like.objects.create(user=user, video=video)
            except IntegrityError:  # a double click raced us: it is liked
                pass
            else:
                Video.objects.filter(pk=video.pk).update(like_count=F("like_count") + 1)
            liked = True
    count = Video.objects.filter(pk=video.pk).values_list("like_count", flat=True).first() or 0
    return liked, count


MAX_WATCH_EVENTS = 50


def record_watch_events(user, session_key: str, events: list[dict]) -> int:
    """Store a batch of watch events from the player; invalid rows are dropped, not fatal."""
    rows = []
    for raw in events[:MAX_WATCH_EVENTS]:
        try:
            video_id = int(raw["id"])
            watched = max(0, min(int(raw.get("watchedMs", 0)), 3_600_000))
            loops = max(0, min(int(raw.get("loops", 0) or 0), 1000))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if not 0 < video_id < 2**63:  # outside the id column's range: cannot be a video
            continue
        rows.append(
            WatchEvent(
                user=user if getattr(user, "is_authenticated", False) else None,
                session_key=(session_key or "")[:40],
                video_id=video_id,
                watched_ms=watched,
                completed=bool(raw.get("completed")),
                loops=loops,
                skipped=bool(raw.get("skipped")),
            )
        )
    if not rows:
        return 0
    known = set(Video.objects.filter(id__in={r.video_id for r in rows}).values_list("id", flat=True))
    rows = [r for r in rows if r.video_id in known]
    WatchEvent.objects.bulk_create(rows)
    for video_id, views in Counter(r.video_id for r in rows).items():
        Video.objects.filter(pk=video_id).update(view_count=F("view_count") + views)
    return len(rows)
