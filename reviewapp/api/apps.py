from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "reviewapp.api"
    label = "api"
