from django.core.management.base import BaseCommand

from journal.equity import equity_prune


class Command(BaseCommand):
    help = (
        "Thin equity points older than a week to one an hour and delete those older than "
        "JOURNAL_EQUITY_RETENTION_DAYS (0 keeps them); the hourly schedule does the same."
    )

    def handle(self, *args, **options) -> None:
        done = equity_prune()
        self.stdout.write(
            self.style.SUCCESS(
                f"Thinned {done['thinned']} minute point(s); deleted {done['expired']} expired point(s)."
            )
        )
