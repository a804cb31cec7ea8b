from django.contrib import admin

from aigen.models import GenerationJob


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "provider",
        "model",
        "status",
        "progress",
        "estimated_cost",
        "actual_cost",
        "created_at",
    )
    list_filter = ("status", "provider")
    search_fields = ("prompt", "owner__username", "provider_job_id")
    raw_id_fields = ("owner", "video", "remix_of")
