from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "reviewapp.accounts"
    label = "accounts"
    verbose_name = "Accounts"
