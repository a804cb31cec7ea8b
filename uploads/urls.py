from django.urls import path

from uploads import views

app_name = "uploads"
urlpatterns = [
    path("upload/", views.upload_page, name="upload"),
]
