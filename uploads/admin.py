from django.contrib import admin

from uploads.models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    """Uploads are written by the upload paths only: moderators read them, or delete stale ones."""

    list_display = ("id", "owner", "backend", "filename", "progress", "status", "video", "created_at")
    list_filter = ("status", "backend")
    list_select_related = ("owner", "video")
    search_fields = ("id", "filename", "owner__username")
    raw_id_fields = ("owner", "video")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id", "owner", "backend", "filename", "length", "offset", "metadata", "status", "video", "error",
        "s3_key", "s3_upload_id", "created_at", "updated_at",
    )  # fmt: skip

    @admin.display(description="received")
    def progress(self, obj: Upload) -> str:
        pct = obj.offset * 100 // obj.length if obj.length else 0
        return f"{pct}% of {obj.length / (1024 * 1024):.1f} MB"

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj: Upload) -> None:
        obj.work_path.unlink(missing_ok=True)  # the bytes go with the record
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for upload in queryset:
            upload.work_path.unlink(missing_ok=True)
        super().delete_queryset(request, queryset)
