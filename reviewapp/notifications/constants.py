from django.db import models


class Frequency(models.TextChoices):
    IMMEDIATE = "immediate", "As soon as something waits for me (checked every hour)"
    DAILY = "daily", "A daily digest"
    OFF = "off", "Off"
