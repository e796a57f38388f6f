from celery import shared_task

from reviewapp.mail import services


@shared_task(name="mail.email_send", soft_time_limit=120, time_limit=150)
def email_send(email_id: int) -> str:
    return services.email_send(email_id=email_id)


@shared_task(name="mail.outbox_flush", soft_time_limit=120, time_limit=150)
def outbox_flush() -> int:
    return services.outbox_flush()
