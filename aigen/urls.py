app_name = "aigen"
urlpatterns: list = []
