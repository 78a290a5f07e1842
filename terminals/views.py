"""The Accounts pages: list with live figures, connect form, one account's terminal."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from mt5saas.views import OwnedObjectMixin

from .drivers.base import TerminalError
from .errors import AccountError
from .forms import ConnectForm, MappingForm, RiskLimitsForm
from .gateway import terminal_read
from .models import SymbolMapping, TradingAccount
from .selectors import account_list
from .services import (
    account_connect,
    account_delete,
    account_edit,
    account_instance,
    symbol_mapping_add,
)
from .symbols import symbol_mapping_delete


class AccountsPage(LoginRequiredMixin, View):
    def get(self, request, form: ConnectForm | None = None, status: int = 200):
        context = {"accounts": account_list(user=request.user), "form": form or ConnectForm()}
        return render(request, "terminals/accounts.html", context, status=status)

    def post(self, request):
        form = ConnectForm(request.POST)
        if not form.is_valid():
            return self.get(request, form, status=400)
        try:
            account = account_connect(owner=request.user, **form.cleaned_data)
        except AccountError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.get(request, form, status=400)
        messages.success(request, f"Account {account.login} on {account.server} is {account.status}.")
        return redirect("/accounts")


class AccountsTable(LoginRequiredMixin, View):
    """The table alone, refreshed by htmx every few seconds."""

    def get(self, request):
        return render(request, "terminals/_accounts_table.html", {"accounts": account_list(user=request.user)})


def _account_page(request, account: TradingAccount, limits: RiskLimitsForm | None = None, status: int = 200):
    try:
        positions, error = terminal_read(account, "positions"), ""
    except TerminalError as exc:
        positions, error = [], exc.message
    context = {
        "account": account,
        "positions": positions,
        "terminal_error": error,
        "limits": limits or RiskLimitsForm.of(account),
        "mappings": account.symbol_mappings.order_by("requested"),
        "events": account.events.order_by("-created_at")[:20],
    }
    return render(request, "terminals/account.html", context, status=status)


class AccountPage(OwnedObjectMixin, View):
    owned_model = TradingAccount

    def get_queryset(self):
        return account_list(user=self.request.user)

    def get(self, request, pk: int):
        return _account_page(request, self.get_object())


class AccountLimits(OwnedObjectMixin, View):
    """The risk limits card: a bad value is shown beside its field and nothing changes."""

    owned_model = TradingAccount

    def get_queryset(self):
        return account_list(user=self.request.user)

    def post(self, request, pk: int):
        account = self.get_object()
        form = RiskLimitsForm(request.POST)
        if not form.is_valid():
            return _account_page(request, account, limits=form, status=400)
        account_edit(account=account, **form.limits())
        messages.success(request, f"Risk limits of account {account.login} saved.")
        return redirect(f"/accounts/{account.pk}")


class AccountAction(OwnedObjectMixin, View):
    owned_model = TradingAccount
    actions = ("start", "stop", "restart", "delete")

    def get_queryset(self):
        return account_list(user=self.request.user)

    def post(self, request, pk: int, action: str):
        account = self.get_object()
        if action not in self.actions:
            messages.error(request, "Unknown action.")
            return redirect(f"/accounts/{account.pk}")
        try:
            if action == "delete":
                account_delete(account=account, confirm="confirm" in request.POST)
                messages.success(request, f"Account {account.login} deleted; its history is kept.")
                return redirect("/accounts")
            account_instance(account=account, action=action)
            messages.success(request, f"{action.title()}: account {account.login} is {account.status}.")
        except AccountError as error:
            messages.error(request, error.message)
        return redirect(f"/accounts/{account.pk}")


class MappingAdd(OwnedObjectMixin, View):
    owned_model = TradingAccount

    def get_queryset(self):
        return account_list(user=self.request.user)

    def post(self, request, pk: int):
        account = self.get_object()
        form = MappingForm(request.POST)
        if form.is_valid():
            try:
                mapping = symbol_mapping_add(account=account, **form.cleaned_data)
                messages.success(request, f"{mapping.requested} now trades as {mapping.broker_symbol}.")
            except AccountError as error:
                messages.error(request, error.message)
        else:
            messages.error(request, "Both symbols are needed, 40 characters at most.")
        return redirect(f"/accounts/{account.pk}")


class MappingDelete(OwnedObjectMixin, View):
    owned_model = SymbolMapping

    def post(self, request, pk: int):
        mapping = self.get_object()
        symbol_mapping_delete(account=mapping.account, requested=mapping.requested)
        messages.success(request, f"Mapping of {mapping.requested} removed.")
        return redirect(f"/accounts/{mapping.account_id}")
