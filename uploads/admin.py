from django.contrib import admin

from uploads.models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "filename", "offset", "length", "status", "video", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("owner", "video")
