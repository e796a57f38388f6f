from celery import shared_task

from reviewapp.mail import services


@shared_task(bind=True, name="mail.email_send", soft_time_limit=120, time_limit=150)
def email_send(self, email_id: int) -> str:
    # A retry goes back to the queue this attempt came from.
    queue = (self.request.delivery_info or {}).get("routing_key")
    return services.email_send(email_id=email_id, queue=queue)


@shared_task(bind=True, name="mail.outbox_flush", soft_time_limit=120, time_limit=150)
def outbox_flush(self) -> int:
    # The messages go to the queue this worker takes its periodic tasks from.
    queue = (self.request.delivery_info or {}).get("routing_key")
    return services.outbox_flush(queue=queue)
