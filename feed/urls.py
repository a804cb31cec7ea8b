from django.urls import path

from feed import views

app_name = "feed"
urlpatterns = [
    path("", views.home, name="home"),
    path("v/<int:video_id>/", views.video_detail, name="video"),
    path("feed/page/", views.feed_page, name="page"),
    path("feed/watch/", views.watch_events, name="watch"),
    path("v/<int:video_id>/like/", views.like, name="like"),
]
