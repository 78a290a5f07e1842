"""The dashboard, the page a trader lands on: part of the composition root, it reads from
several apps (the webhook URL from accounts, the accounts from terminals)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import webhook_url
from accounts.services import webhook_token_reveal
from terminals.selectors import account_list


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    token = webhook_token_reveal(user=request.user)
    context = {"webhook_url": webhook_url(token=token, request=request), "accounts": account_list(user=request.user)}
    return render(request, "dashboard.html", context)
