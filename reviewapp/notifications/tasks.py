from celery import shared_task

from reviewapp.notifications import services


@shared_task(name="notifications.digests_send", soft_time_limit=50 * 60, time_limit=55 * 60)
def digests_send() -> int:
    return services.digests_send()
