from django.urls import path

from apps.audit.api import AuditExportView, AuditLogView, AuditReportView

urlpatterns = [
    path("logs", AuditLogView.as_view(), name="audit-logs"),
    path("export", AuditExportView.as_view(), name="audit-export"),
    path("reports", AuditReportView.as_view(), name="audit-reports"),
]
