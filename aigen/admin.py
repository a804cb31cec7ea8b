from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from aigen import services
from aigen.models import GenerationJob


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = (
        "short_prompt",
        "owner",
        "provider",
        "model",
        "status",
        "progress",
        "created_at",
        "provider_time",
        "total_time",
        "estimated_cost",
        "actual_cost",
        "error_code",
    )
    list_filter = ("status", "provider", "model", "created_at")
    search_fields = ("prompt", "owner__username", "provider_job_id")
    raw_id_fields = ("owner", "video", "remix_of")
    readonly_fields = (
        "provider_job_id",
        "poll_count",
        "created_at",
        "submitted_at",
        "provider_completed_at",
        "finished_at",
    )
    date_hierarchy = "created_at"
    actions = ["cancel_jobs"]
    change_list_template = "aigen/admin_change_list.html"

    @admin.display(description="prompt")
    def short_prompt(self, job: GenerationJob) -> str:
        return job.prompt[:60]

    @admin.display(description="at provider (s)")
    def provider_time(self, job: GenerationJob) -> str:
        return f"{job.provider_seconds:.0f}" if job.provider_seconds is not None else "–"

    @admin.display(description="total (s)")
    def total_time(self, job: GenerationJob) -> str:
        return f"{job.total_seconds:.0f}" if job.total_seconds is not None else "–"

    @admin.action(description="Cancel selected jobs (frees their slot, costs nothing)")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        done = sum(services.cancel(job, by=request.user) for job in queryset.filter(status__in=GenerationJob.ACTIVE))
        self.message_user(request, f"Canceled {done} job(s).", messages.SUCCESS)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "daily_totals": services.daily_totals()}
        return super().changelist_view(request, extra_context)
