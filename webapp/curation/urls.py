from django.urls import path

from webapp.curation import views

app_name = "curation"
urlpatterns = [
    path("", views.collector_list, name="collector-list"),
    path("collectors/<int:pk>/", views.collector_detail, name="collector-detail"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/train/", views.job_train, name="job-train"),
    path("jobs/new/<str:kind>/<str:method>/", views.job_new, name="job-new"),
    path("jobs/<int:pk>/do/<str:action>/", views.job_action, name="job-action"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/status/", views.job_status, name="job-status"),
]
