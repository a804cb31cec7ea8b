from django.urls import path

from aigen import views

app_name = "aigen"
urlpatterns = [
    path("generate/", views.generate_page, name="generate"),
    path("generate/jobs/<uuid:job_id>/", views.job_page, name="job"),
    path("generate/jobs/<uuid:job_id>/cancel/", views.cancel_job, name="cancel"),
    path("generate/jobs/<uuid:job_id>/publish/", views.publish_job, name="publish"),
    path("generate/jobs/<uuid:job_id>/regenerate/", views.regenerate_job, name="regenerate"),
    path("generate/webhooks/openai/", views.openai_webhook, name="openai-webhook"),
]
