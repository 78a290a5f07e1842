"""The alerts app's only calls to the task queue: one function per kind of work."""

from django_q.tasks import async_task


def dispatch_enqueue() -> None:
    """Run the dispatcher soon (alerts.dispatch): the wake-up's way of not waiting for the schedule."""
    async_task("alerts.tasks.dispatch", task_name="alerts-dispatch")


def delivery_enqueue(delivery_id: int) -> None:
    """Attempt one delivery (an email or an endpoint's webhook) on a worker."""
    async_task("alerts.tasks.deliver", delivery_id, task_name=f"alert-delivery-{delivery_id}")
