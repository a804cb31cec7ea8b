"""Thin views: parse, call aigen.services, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from aigen import limits, services, webhooks
from aigen.limits import LimitError
from aigen.models import GenerationJob
from aigen.providers import default_provider


def _job_or_404(request: HttpRequest, job_id) -> GenerationJob:
    try:
        return services.access_job(request.user, job_id)
    except GenerationJob.DoesNotExist:
        raise Http404("No such job") from None


@login_required
def generate_page(request: HttpRequest) -> HttpResponse:
    error, status, form = None, 200, {}
    if request.method == "POST":
        form = request.POST
        provider, _, model = form.get("model", "").partition("/")
        try:
            job = services.submit(
                request.user,
                form.get("prompt", ""),
                provider=provider or None,
                model=model or None,
                size=form.get("size") or None,
                seconds=_int(form.get("seconds")),
                style=form.get("style", ""),
            )
            return redirect(job)
        except LimitError as exc:
            error, status = str(exc), exc.status
    context = {
        "prices": limits.price_table(),
        "default_provider": default_provider(),
        "styles": limits.STYLES,
        "jobs": services.recent_jobs(request.user),
        "error": error,
        "form": form,
        "spent": services.spent_today(request.user),
        "budget": settings.AIGEN_DAILY_BUDGET_USD,
    }
    return render(request, "aigen/generate.html", context, status=status)


def _job_response(request: HttpRequest, job: GenerationJob, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "job": job,
        "event": services.job_event(job),
        "error": error,
        "jobs": services.recent_jobs(request.user, 8),
    }
    return render(request, "aigen/job.html", context, status=status)


@login_required
def job_page(request: HttpRequest, job_id) -> HttpResponse:
    return _job_response(request, _job_or_404(request, job_id))


@login_required
@require_POST
def cancel_job(request: HttpRequest, job_id) -> HttpResponse:
    services.cancel(_job_or_404(request, job_id), by=request.user)
    return redirect("aigen:job", job_id=job_id)


@login_required
@require_POST
def publish_job(request: HttpRequest, job_id) -> HttpResponse:
    job = _job_or_404(request, job_id)
    try:
        services.publish(request.user, job)
    except LimitError as exc:
        return _job_response(request, job, str(exc), exc.status)
    return redirect("aigen:job", job_id=job_id)


@login_required
@require_POST
def regenerate_job(request: HttpRequest, job_id) -> HttpResponse:
    job = _job_or_404(request, job_id)
    try:
        new = services.regenerate(request.user, job, request.POST.get("prompt", ""))
    except LimitError as exc:
        return _job_response(request, job, str(exc), exc.status)
    return redirect(new)


@csrf_exempt
@require_POST
def openai_webhook(request: HttpRequest) -> HttpResponse:
    try:
        webhooks.handle_openai(request.body, dict(request.headers))
    except webhooks.WebhookRejected as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"ok": True})


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        raise LimitError("The duration must be a number of seconds.", field="seconds") from None
