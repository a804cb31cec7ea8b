from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from feed.account import settings_page
from feed.views import signup
from uploads.media import serve_media

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/signup/", signup, name="signup"),
    path("settings/", settings_page, name="settings"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("uploads.urls")),
    path("", include("aigen.urls")),
    path("", include("feed.urls")),
]

if settings.SERVE_MEDIA:
    prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns.append(re_path(rf"^{prefix}(?P<path>.+)$", serve_media, name="media"))
