"""The feed pages: server-rendered cards, keyset pages by signed cursor, deep links, likes, query budgets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from feed import services
from feed.cursor import SALT, BadCursor, Cursor
from feed.models import Like, Video

pytestmark = pytest.mark.django_db

CARD_IDS = re.compile(r'<article class="card[^"]*" data-video-id="(\d+)"')


def make_videos(owner, n: int, *, same_time: bool = False, **fields) -> list[Video]:
    """Ready, public videos, newest first by published_at (ties when same_time)."""
    now = timezone.now()
    videos = []
    for i in range(n):
        videos.append(
            Video.objects.create(
                owner=owner,
                caption=f"clip {i}",
                status=Video.Status.READY,
                duration=4,
                width=360,
                height=640,
                hls_master=f"videos/{i}/master.m3u8",
                poster=f"videos/{i}/poster.jpg",
                placeholder="data:image/jpeg;base64,AAAA",
                published_at=now if same_time else now - timedelta(minutes=i),
                **fields,
            )
        )
    return videos


def ids_in(html: str) -> list[int]:
    return [int(x) for x in CARD_IDS.findall(html)]


def next_cursor(html: str) -> str | None:
    m = re.search(r'hx-get="/feed/page/\?cursor=([^"]+)"', html)
    return m and m.group(1)


def test_home_renders_first_cards_and_player_config(client, alice, settings):
    settings.FEED_PAGE_SIZE = 4
    settings.PLAYER_POOL_SIZE = 4
    videos = make_videos(alice, 6)
    html = client.get("/").content.decode()
    assert ids_in(html) == [v.pk for v in videos[:4]]
    assert 'data-pool-size="4"' in html
    assert "master.m3u8" in html and "data:image/jpeg;base64" in html
    assert "feed-more" in html and "caught up" not in html


def test_pool_size_is_clamped_to_three_to_five(client, alice, settings):
    make_videos(alice, 1)
    settings.PLAYER_POOL_SIZE = 9
    assert 'data-pool-size="5"' in client.get("/").content.decode()
    settings.PLAYER_POOL_SIZE = 1
    assert 'data-pool-size="3"' in client.get("/").content.decode()


def test_pages_walk_every_video_once_in_keyset_order(client, alice, bob, settings):
    settings.FEED_PAGE_SIZE = 4
    # Ties on published_at are the hard case for keyset pagination: id breaks them.
    videos = make_videos(alice, 7, same_time=True) + make_videos(bob, 6)
    expected = [v.pk for v in sorted(videos, key=lambda v: (v.published_at, v.pk), reverse=True)]
    html = client.get("/").content.decode()
    seen = ids_in(html)
    cursor = next_cursor(html)
    pages = 1
    while cursor:
        resp = client.get(f"/feed/page/?cursor={cursor}")
        assert resp.status_code == 200
        fragment = resp.content.decode()
        assert "<html" not in fragment  # a fragment for htmx, not a page
        seen += ids_in(fragment)
        cursor = next_cursor(fragment)
        pages += 1
    assert seen == expected
    assert len(set(seen)) == len(seen)
    assert pages == 4
    assert "caught up" in fragment  # the end card closes the feed


def test_a_video_published_between_pages_does_not_duplicate_or_shift(client, alice, settings):
    settings.FEED_PAGE_SIZE = 3
    videos = make_videos(alice, 6)
    first = client.get("/").content.decode()
    make_videos(alice, 2)  # newer videos arrive: with OFFSET the next page would repeat cards
    second = client.get(f"/feed/page/?cursor={next_cursor(first)}").content.decode()
    assert ids_in(first) + ids_in(second) == [v.pk for v in videos]


def test_feed_hides_private_hidden_and_unfinished_videos(client, alice):
    shown = make_videos(alice, 1)
    make_videos(alice, 1, visibility=Video.Visibility.PRIVATE)
    make_videos(alice, 1, moderation=Video.Moderation.HIDDEN)
    Video.objects.create(owner=alice, status=Video.Status.PROCESSING)
    assert ids_in(client.get("/").content.decode()) == [shown[0].pk]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        Cursor(timezone.now(), 5).encode()[:-3] + "abc",  # tampered signature
        signing.dumps([timezone.now().isoformat(), 5], salt="another.salt"),
        signing.dumps(["not a date", 5], salt=SALT),
        signing.dumps({"x": 1}, salt=SALT),
    ],
)
def test_tampered_or_forged_cursor_is_400_not_500(client, token):
    resp = client.get("/feed/page/", {"cursor": token})
    assert resp.status_code == 400


def test_cursor_round_trip_and_rejects_tampering():
    c = Cursor(timezone.now(), 42)
    assert Cursor.decode(c.encode()) == c
    with pytest.raises(BadCursor):
        Cursor.decode(c.encode() + "x")


def test_deep_link_starts_at_that_video_then_continues_older(client, alice, settings):
    settings.FEED_PAGE_SIZE = 3
    videos = make_videos(alice, 8)
    html = client.get(f"/v/{videos[2].pk}/").content.decode()
    assert ids_in(html) == [videos[2].pk, videos[3].pk, videos[4].pk, videos[5].pk]
    rest = client.get(f"/feed/page/?cursor={next_cursor(html)}").content.decode()
    assert ids_in(rest) == [videos[6].pk, videos[7].pk]


def test_deep_link_to_private_or_missing_video_is_404(client, alice, bob):
    private = make_videos(alice, 1, visibility=Video.Visibility.PRIVATE)[0]
    assert client.get(f"/v/{private.pk}/").status_code == 404
    assert client.get("/v/999999/").status_code == 404
    client.force_login(alice)  # the owner may watch her private video
    assert ids_in(client.get(f"/v/{private.pk}/").content.decode()) == [private.pk]


def test_like_sends_visitors_to_login_and_toggles_for_users(client, alice, bob):
    video = make_videos(alice, 1)[0]
    resp = client.post(f"/v/{video.pk}/like/")
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]
    client.force_login(bob)
    assert client.post(f"/v/{video.pk}/like/").json() == {"liked": True, "likes": 1}
    html = client.get("/").content.decode()
    assert "action--like is-liked" in html and 'aria-pressed="true"' in html
    assert client.post(f"/v/{video.pk}/like/").json() == {"liked": False, "likes": 0}
    assert not Like.objects.exists()


def test_feed_marks_visitor_and_user(client, alice):
    make_videos(alice, 1)
    assert 'data-auth="0"' in client.get("/").content.decode()
    client.force_login(alice)
    assert 'data-auth="1"' in client.get("/").content.decode()


# --- query budgets: a page costs the same however many cards it shows -------------------------------


@pytest.mark.parametrize("signed_in", [False, True])
def test_query_budget_home_page_and_deep_link(client, alice, bob, settings, django_assert_max_num_queries, signed_in):
    settings.FEED_PAGE_SIZE = 6
    videos = make_videos(alice, 15)
    Like.objects.create(user=bob, video=videos[0])
    if signed_in:
        client.force_login(bob)
    # visitor: feed query only; signed in: + session, user and the liked-ids query
    budget = 4 if signed_in else 1
    with django_assert_max_num_queries(budget):
        html = client.get("/").content.decode()
    assert len(ids_in(html)) == 6
    with django_assert_max_num_queries(budget):
        resp = client.get(f"/feed/page/?cursor={next_cursor(html)}")
    assert len(ids_in(resp.content.decode())) == 6
    with django_assert_max_num_queries(budget + 1):  # + the deep-linked video itself
        resp = client.get(f"/v/{videos[3].pk}/")
    assert len(ids_in(resp.content.decode())) == 7


def test_liked_ids_costs_nothing_for_visitors(alice, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    videos = make_videos(alice, 2)
    with django_assert_num_queries(0):
        assert services.liked_ids(AnonymousUser(), videos) == set()


# --- watch events: the sendBeacon endpoint ---------------------------------------------------------


def test_watch_events_are_stored_and_count_views(alice):
    video = make_videos(alice, 1)[0]
    client = Client(enforce_csrf_checks=True)  # beacons carry no CSRF token
    events = [
        {"id": video.pk, "watchedMs": 4100, "completed": True, "loops": 1, "skipped": False},
        {"id": video.pk, "watchedMs": 900, "completed": False, "loops": 0, "skipped": True},
    ]
    resp = client.post("/feed/watch/", {"events": events}, content_type="application/json")
    assert resp.status_code == 200 and resp.json() == {"stored": 2}
    video.refresh_from_db()
    assert video.view_count == 2
    rows = list(video.watch_events.order_by("watched_ms").values("watched_ms", "completed", "loops", "skipped"))
    assert rows == [
        {"watched_ms": 900, "completed": False, "loops": 0, "skipped": True},
        {"watched_ms": 4100, "completed": True, "loops": 1, "skipped": False},
    ]


def test_watch_events_drop_bad_rows_without_failing(client, alice):
    video = make_videos(alice, 1)[0]
    events = [
        {"id": video.pk, "watchedMs": 10**12, "loops": "many"},  # loops not a number: dropped
        {"id": "x"},
        {"watchedMs": 5},
        "not an object",
        [1, 2],
        {"id": 10**30},
        {"id": 987654},  # unknown video
        {"id": video.pk, "watchedMs": 10**12, "loops": 5000},  # clamped
    ]
    resp = client.post("/feed/watch/", {"events": events}, content_type="application/json")
    assert resp.status_code == 200 and resp.json() == {"stored": 1}
    row = video.watch_events.get()
    assert (row.watched_ms, row.loops) == (3_600_000, 1000)


@pytest.mark.parametrize(
    "body,status",
    [(b"{not json", 400), (b'{"events": {"id": 1}}', 400), (b"[1, 2]", 400), (b"x" * (65 * 1024), 413)],
)
def test_watch_endpoint_rejects_malformed_payloads(client, body, status):
    assert client.post("/feed/watch/", body, content_type="application/json").status_code == status


def test_watch_endpoint_only_takes_post(client):
    assert client.get("/feed/watch/").status_code == 405


# --- the slow-network start: low rung playlist, init and first segment, preloaded by the page -------


MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=950400,RESOLUTION=360x640,CODECS="avc1.64001e,mp4a.40.2"
360/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1645600,RESOLUTION=540x960,CODECS="avc1.64001f,mp4a.40.2"
540/index.m3u8
"""
LEVEL = """#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init_0.mp4"
#EXTINF:2.000000,
seg_0000.m4s
#EXTINF:2.000000,
seg_0001.m4s
#EXT-X-ENDLIST
"""


def write_ladder(master: str = MASTER, level: str = LEVEL) -> str:
    import uuid

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    root = f"videos/test-{uuid.uuid4().hex[:10]}"
    default_storage.save(f"{root}/master.m3u8", ContentFile(master.encode()))
    default_storage.save(f"{root}/360/index.m3u8", ContentFile(level.encode()))
    return f"{root}/master.m3u8"


def test_page_preloads_the_low_rung_start_for_slow_networks(client, alice):
    video = make_videos(alice, 1)[0]
    video.hls_master = write_ladder()
    video.save()
    html = client.get("/").content.decode()
    root = video.hls_master.rsplit("/", 1)[0]
    expected = [f"/media/{root}/360/index.m3u8", f"/media/{root}/360/init_0.mp4", f"/media/{root}/360/seg_0000.m4s"]
    assert services.low_rung_start(video) == expected
    assert '<script id="low-start" type="application/json">' in html and expected[2] in html


def test_low_rung_start_is_empty_for_unreadable_or_hostile_ladders(alice):
    video = make_videos(alice, 1)[0]  # playlists that do not exist
    assert services.low_rung_start(video) == []
    video.hls_master = write_ladder(level=LEVEL.replace("seg_0000.m4s", "../../../secret"))
    assert services.low_rung_start(video) == []
    video.hls_master = write_ladder(master="#EXTM3U\n")
    assert services.low_rung_start(video) == []
