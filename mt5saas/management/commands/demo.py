import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from accounts.selectors import webhook_url
from accounts.services import demo_credentials
from terminals.errors import AccountError
from terminals.services import demo_accounts as terminals_demo_accounts


class Command(BaseCommand):
    help = (
        "Create or reuse a demo trader and print its credentials: running it again shows the same "
        "password, API key and webhook URL; --reset issues new ones (the old ones stop working)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", default="demo", help="username (default: demo)")
        parser.add_argument("--accounts", type=int, default=2, help="simulated MT5 accounts (default: 2)")
        parser.add_argument("--base-url", default="", help="public address for the webhook URL")
        parser.add_argument("--reset", action="store_true", help="issue a new password, API key and webhook URL")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")

    def handle(self, *args, user: str, accounts: int, base_url: str, reset: bool, as_json: bool, **options) -> None:
        if not 0 <= accounts <= 50:
            raise CommandError("--accounts must be between 0 and 50")
        username = user.strip()
        try:
            User.username_validator(username)
            if not username or len(username) > 150:
                raise ValidationError("1 to 150 characters")
        except ValidationError as exc:
            raise CommandError(f"--user: {' '.join(exc.messages)}") from None
        with transaction.atomic():
            trader, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@demo.invalid", "name": username.title()}
            )
            if trader.is_staff:
                raise CommandError(f"{username} is an operator; demo only manages traders")
            if not trader.is_active:
                trader.is_active = True
                trader.save(update_fields=["is_active"])
            credentials = demo_credentials(user=trader, reset=reset)
            try:
                demo_accounts = terminals_demo_accounts(owner=trader, count=accounts)
            except AccountError as error:
                raise CommandError(f"Could not create the demo accounts: {error.message}") from None
        result = {
            "username": trader.username,
            "password": credentials["password"],
            "api_token": credentials["api_token"],
            "webhook_url": webhook_url(token=credentials["webhook_token"], base=base_url or "http://127.0.0.1:8000"),
            "accounts": demo_accounts,
        }
        if as_json:
            self.stdout.write(json.dumps(result))
            return
        verb = "Created" if created else "Reused"
        self.stdout.write(f"{verb} trader {trader.username}")
        for key, value in result.items():
            self.stdout.write(f"  {key}: {value}")
        if not reset:
            self.stdout.write("  (shown again on the next run; `manage.py demo --reset` issues new ones)")
