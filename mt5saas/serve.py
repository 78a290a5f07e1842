"""`python -m mt5saas.serve …` runs daphne (same arguments) with a redacted access log.

Daphne writes request paths to its access log, and a webhook path is a secret.
"""

import logging

import daphne.cli
from daphne.access import AccessLogGenerator

from .logging import redact


class RedactedAccessLog(AccessLogGenerator):
    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None) -> None:
        super().write_entry(host, date, redact(request), status, length, ident, user)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    # daphne.cli builds its access logger from this name; nothing else reads it.
    daphne.cli.AccessLogGenerator = RedactedAccessLog
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
