"""The Copy trading page (pairs, their keys, the latest copied trades) and the Copy history page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from mt5saas.forms import id_param
from mt5saas.views import OwnedObjectMixin

from . import services
from .errors import CopyError
from .forms import CopyHistoryForm, PairForm, symbol_map_text
from .models import CopyPair
from .selectors import history_list, pair_list

SHOWN_KEY = "copytrading.shown_key"  # session: a key shown once on the next page view
HISTORY_FILTERS = ("success", "error")


def _page(request: HttpRequest, *, form: PairForm | None = None, editing: CopyPair | None = None, status: int = 200,
          revealed: tuple[int, str] | None = None) -> HttpResponse:  # fmt: skip
    shown = request.session.pop(SHOWN_KEY, None)
    status_filter = request.GET.get("status")
    status_filter = status_filter if status_filter in HISTORY_FILTERS else None
    context = {
        "pairs": pair_list(user=request.user),
        "form": form or PairForm(user=request.user),
        "editing": editing,
        "shown_key": shown or (revealed and {"pair": revealed[0], "key": revealed[1]}),
        "history": history_list(user=request.user, status=status_filter)[:50],
        "status_filter": status_filter,
    }
    return render(request, "copytrading/copy.html", context, status=status)


def _refused(
    request: HttpRequest, form: PairForm, error: CopyError, *, editing: CopyPair | None = None
) -> HttpResponse:
    """The one place these pages answer copy trading's errors: the page again, 400, the error on its field."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
    return _page(request, form=form, editing=editing, status=400)


@login_required
def copy_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        edit = request.GET.get("edit", "")
        pk = id_param(edit)
        editing = pair_list(user=request.user).filter(pk=pk).first() if pk is not None else None
        form = None
        if editing is not None:
            initial = {name: getattr(editing, name) for name in services.PAIR_FIELDS}
            initial |= {"master": editing.master_id, "slave": editing.slave_id}
            initial["symbol_map"] = symbol_map_text(editing.symbol_map)
            form = PairForm(user=request.user, initial=initial)
        return _page(request, form=form, editing=editing)
    form = PairForm(request.POST, user=request.user)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        pair, key = services.pair_create(owner=request.user, **form.cleaned_data)
    except CopyError as error:
        return _refused(request, form, error)
    request.session[SHOWN_KEY] = {"pair": pair.pk, "key": key}
    messages.success(request, f"Pair {pair.master} → {pair.slave} created. Copy its API key now.")
    return redirect("/copy")


class PairAction(OwnedObjectMixin, View):
    owned_model = CopyPair
    actions = ("edit", "toggle", "delete", "rotate-key", "key")

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        pair = self.get_object()
        if action not in self.actions:
            messages.error(request, "Unknown action.")
        elif action == "edit":
            form = PairForm(request.POST, user=request.user)
            if not form.is_valid():
                return _page(request, form=form, editing=pair, status=400)
            try:
                services.pair_update(pair=pair, **form.cleaned_data)
            except CopyError as error:
                return _refused(request, form, error, editing=pair)
            messages.success(request, "Pair saved.")
        elif action == "toggle":
            services.pair_toggle(pair=pair)
            messages.success(request, f"Pair {'on' if pair.active else 'off'}.")
        elif action == "delete":
            services.pair_delete(pair=pair)
            messages.success(request, "Pair deleted; its history is kept.")
        elif action == "rotate-key":
            request.session[SHOWN_KEY] = {"pair": pair.pk, "key": services.pair_key_rotate(pair=pair)}
            messages.success(request, "New API key issued; the old one no longer works.")
        else:
            return _page(request, revealed=(pair.pk, services.pair_key_reveal(pair=pair)))
        return redirect("/copy")


@login_required
def history_page(request: HttpRequest) -> HttpResponse:
    """Every copied trade, filtered; the table alone for htmx (the pages reload it on each copy event)."""
    form = CopyHistoryForm(request.GET or None, user=request.user)
    filters = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {"status": data["status"] or None, "master": data["master"] and data["master"].pk,
                   "symbol": data["symbol"].strip()}  # fmt: skip
    page = Paginator(history_list(user=request.user, **filters), 50).get_page(request.GET.get("page"))
    context = {"form": form, "history": page, "page": page, "query": _without_page(request)}
    template = "copytrading/_history.html" if request.htmx else "copytrading/history.html"
    return render(request, template, context)


def _without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
