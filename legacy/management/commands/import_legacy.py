from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from legacy.services import LegacyFileError, legacy_import


class Command(BaseCommand):
    help = """Import a single-user bot's folder for one user: accounts.db (accounts and
    nicknames), custom_mappings.json, copy_pairs.json (with their API keys, so running master
    EAs keep working), copy_history.json (the newest 1,000) and WEBHOOK_TOKEN from .env (so
    running TradingView alerts keep working). Files are looked for in the folder and its
    data/ subfolder; formats in legacy/services.py and docs/legacy-import.md. One
    transaction: a file that cannot be read imports nothing; rows that cannot be imported
    are listed with the reason. Running it again imports nothing twice."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", help="the bot's folder (the one holding .env and data/)")
        parser.add_argument("--user", required=True, help="email of the user who gets the data")
        parser.add_argument("--dry-run", action="store_true", help="report what would be imported; change nothing")

    def handle(self, *args, folder: str, user: str, dry_run: bool, **options) -> None:
        path = Path(folder)
        if not path.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        owner = get_user_model().objects.filter(email__iexact=user.strip()).first()
        if owner is None:
            raise CommandError(f"No user with the email {user}.")
        try:
            report = legacy_import(folder=path, user=owner, dry_run=dry_run)
        except LegacyFileError as error:
            raise CommandError(f"Nothing was imported: {error}") from None
        for what, outcome, detail in report.lines:
            self.stdout.write(f"{outcome:9}  {what}" + (f": {detail}" if detail else ""))
        counts = ", ".join(f"{report.count(o)} {o}" for o in ("imported", "unchanged", "skipped", "missing"))
        verb = "Dry run, nothing changed" if dry_run else "Done"
        self.stdout.write(self.style.SUCCESS(f"{verb}: {counts}."))
