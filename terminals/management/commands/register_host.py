from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from terminals.services import host_register


class Command(BaseCommand):
    help = "Register (or update) a Windows host: its name, queue, capacity and instance root."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--queue", required=True, help="Q_CLUSTER_NAME of the host's qcluster")
        parser.add_argument("--capacity", type=int, default=20, help="terminals this host may run")
        parser.add_argument("--instance-root", default=None, help=r"e.g. C:\mt5\instances (default: MT5_INSTANCE_ROOT)")

    def handle(self, *args, name: str, queue: str, capacity: int, instance_root: str | None, **options) -> None:
        try:
            validate_slug(queue)
        except ValidationError:
            raise CommandError("--queue may hold letters, digits, hyphens and underscores only") from None
        if not 1 <= capacity <= 1000:
            raise CommandError("--capacity must be between 1 and 1000")
        if not name.strip() or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters")
        configured = settings.MT5_INSTANCE_ROOT
        if instance_root is None:
            instance_root = configured
        elif configured and instance_root.rstrip("\\/") != configured.rstrip("\\/"):
            raise CommandError(f"--instance-root {instance_root} differs from MT5_INSTANCE_ROOT {configured}: give one")
        host = host_register(name=name.strip(), queue_name=queue, capacity=capacity, instance_root=instance_root)
        root = host.instance_root or "none"
        self.stdout.write(f"Host {host.name}: queue {host.queue_name}, capacity {host.capacity}, instance root {root}")
        self.stdout.write(f"Run its worker with: Q_CLUSTER_NAME={host.queue_name} python manage.py qcluster")
        self.stdout.write(f"and its agent with: python manage.py host_agent --queue {host.queue_name}")
