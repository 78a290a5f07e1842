"""Mounted at /api/copy/; every route answers with and without a trailing slash (the
single-user bot's EA and scripts call them without one)."""

from django.urls import include, path, re_path

from mt5saas.api import OptionalSlashRouter

from . import api

router = OptionalSlashRouter()
router.register("pairs", api.CopyPairViewSet, basename="copy-pair")
# DELETE on the list clears it, which a router does not route.
history = api.CopyHistoryViewSet.as_view({"get": "list", "delete": "clear"})

urlpatterns = [
    re_path(r"^trade/?$", api.CopyTradeView.as_view(), name="copy-trade"),
    re_path(r"^history/?$", history, name="copy-history"),
    path("", include(router.urls)),
]
