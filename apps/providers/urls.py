from django.urls import path

from apps.providers.api import AIPreferencesView

urlpatterns = [path("preferences", AIPreferencesView.as_view(), name="ai-preferences")]
