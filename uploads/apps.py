import mimetypes

from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"

    def ready(self) -> None:
        # Python's table lacks the HLS types; storage backends and the media view read it.
        mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
        mimetypes.add_type("video/iso.segment", ".m4s")
        mimetypes.add_type("video/mp2t", ".ts")
        mimetypes.add_type("video/mp4", ".mp4")

        from uploads import progress, services

        progress.register_topic("upload", services.snapshot)
        progress.register_topic("user", lambda user, key: progress.event("user", "connected"))
