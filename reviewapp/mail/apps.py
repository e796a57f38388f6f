from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "reviewapp.mail"
    label = "mail"
    verbose_name = "Mail"
