# The copy trading tests' paper accounts and master-event client, for the bodies tried on every route.
from tests.copytrading.conftest import paper, trade  # noqa: F401
