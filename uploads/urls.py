from django.urls import path

from uploads import views

app_name = "uploads"
urlpatterns = [
    path("upload/", views.upload_page, name="upload"),
    path("upload/tus/", views.tus_create, name="tus"),
    path("upload/tus/<str:upload_id>/", views.tus_upload, name="tus-upload"),
    path("upload/s3/", views.s3_start, name="s3"),
    path("upload/s3/<str:upload_id>/", views.s3_upload, name="s3-upload"),
]
