from django.urls import path

from apps.quotas import api

urlpatterns = [
    path("limits", api.LimitsView.as_view(), name="quotas-limits"),
    path("usage", api.UsageView.as_view(), name="quotas-usage"),
]
