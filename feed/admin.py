from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from feed.models import Comment, Follow, Hashtag, Like, Rendition, Report, User, Video, WatchEvent


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Clipstream", {"fields": ("bio", "hide_ai_videos")}))
    list_display = ("username", "email", "is_staff", "is_active", "date_joined")


class RenditionInline(admin.TabularInline):
    model = Rendition
    extra = 0
    readonly_fields = ("height", "width", "frame_height", "bitrate", "playlist", "codecs")
    can_delete = False


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "short_caption", "status", "stage", "progress", "visibility", "moderation",
                    "source_kind", "duration", "transcode_seconds", "created_at")  # fmt: skip
    list_filter = ("status", "visibility", "moderation", "source_kind")
    search_fields = ("caption", "owner__username", "source_name")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("source_sha256", "source_size", "hls_master", "preview_playlist", "poster", "heartbeat_at",
                       "transcode_started_at", "transcode_seconds", "transcode_attempts", "error", "ffmpeg_log",
                       "created_at", "published_at")  # fmt: skip
    inlines = [RenditionInline]
    actions = ["retry_transcode", "hide", "unhide"]

    @admin.display(description="caption")
    def short_caption(self, obj):
        return obj.caption[:50]

    @admin.action(description="Retry transcode")
    def retry_transcode(self, request, queryset):
        from uploads.services import requeue_transcode

        for video in queryset:
            requeue_transcode(video)
        self.message_user(request, f"Re-queued {queryset.count()} video(s).", messages.SUCCESS)

    @admin.action(description="Hide from feeds")
    def hide(self, request, queryset):
        queryset.update(moderation=Video.Moderation.HIDDEN)

    @admin.action(description="Make visible again")
    def unhide(self, request, queryset):
        queryset.update(moderation=Video.Moderation.VISIBLE)


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("video", "reporter", "reason", "resolved", "created_at")
    list_filter = ("reason", "resolved")
    raw_id_fields = ("video", "reporter")


admin.site.register(Hashtag, list_display=("name", "video_count"), search_fields=("name",))
admin.site.register(Like, list_display=("user", "video", "created_at"), raw_id_fields=("user", "video"))
admin.site.register(Comment, list_display=("user", "video", "text", "created_at"), raw_id_fields=("user", "video"))
admin.site.register(Follow, list_display=("follower", "followee", "created_at"), raw_id_fields=("follower", "followee"))
admin.site.register(
    WatchEvent,
    list_display=("video", "user", "watched_ms", "completed", "loops", "skipped", "created_at"),
    raw_id_fields=("video", "user"),
)
