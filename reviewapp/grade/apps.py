from django.apps import AppConfig


class GradeConfig(AppConfig):
    name = "reviewapp.grade"
    label = "grade"
    verbose_name = "GRADE certainty of evidence"
