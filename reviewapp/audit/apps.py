from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "reviewapp.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from reviewapp.audit import signals  # noqa: F401  (connects the admin's log to ours)
