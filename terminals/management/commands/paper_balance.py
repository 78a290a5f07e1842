from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from terminals.paper.cashier import PaperRefused, balance_operation


class Command(BaseCommand):
    help = "Deposit on or withdraw from a paper account: a BALANCE deal in its history, and its balance changed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--server", required=True, help="the paper trade server, e.g. SimBroker-Demo")
        parser.add_argument("--login", required=True, type=int)
        parser.add_argument("operation", choices=["deposit", "withdraw"])
        parser.add_argument("amount", help="in the account's currency, e.g. 250.00")
        parser.add_argument("--comment", default="")

    def handle(self, *args, server: str, login: int, operation: str, amount: str, comment: str, **options) -> None:
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise CommandError(f"{amount[:40]!r} is not an amount") from None
        if not value.is_finite() or value <= 0:
            raise CommandError("The amount must be a positive number")
        try:
            deal = balance_operation(
                server=server, login=login, amount=value if operation == "deposit" else -value, comment=comment
            )
        except PaperRefused as refused:
            raise CommandError(str(refused)) from None
        balance = deal.account.balance
        self.stdout.write(f"Deal {deal.pk}: {deal.comment} {deal.profit}; balance {balance} {deal.account.currency}")
