from django.urls import path

from apps.mcp_tools import api

urlpatterns = [
    path("tools", api.ToolListView.as_view(), name="mcp-tools"),
    path("tools/invoke", api.ToolInvokeView.as_view(), name="mcp-tools-invoke"),
]
