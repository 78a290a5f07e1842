"""What a portable terminal's journal says: the trade server's refusal of a login. Our EA cannot
read the journal and leaves last_error empty, so the host reads it."""

import re
from pathlib import Path

# The terminal's journal, where MT5 writes "'<login>': authorization on <server> failed (<reason>)".
JOURNAL_DIR = "logs"
JOURNAL_READ_LIMIT = 1 << 20
AUTHORIZATION_FAILED = re.compile(
    r"'(?P<login>\d{1,20})': authorization on (?P<server>\S+) failed \((?P<reason>[^)\r\n]+)\)"
)


class Journal:
    """What the terminal's journal (``<instance>/logs/<yyyymmdd>.log``, UTF-16 as MT5 writes
    it) says from now on: made before a terminal starts, it reads only lines written after."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.marks = {path.name: path.stat().st_size for path in self._files()}

    def _files(self) -> list[Path]:
        try:
            return sorted(self.directory.glob("*.log"))[-2:]  # today's and, past midnight, yesterday's
        except OSError:
            return []

    def refusal(self, login: int, server: str) -> str:
        """The reason the trade server gave for refusing `login` on `server` ("Invalid
        account"), or "" when the journal holds no such line since this Journal was made."""
        for path in self._files():
            start = self.marks.get(path.name, 0)
            try:
                with path.open("rb") as file:
                    file.seek(start - start % 2)
                    data = file.read(JOURNAL_READ_LIMIT)
            except OSError:
                continue
            text = data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le", errors="ignore")
            for found in AUTHORIZATION_FAILED.finditer(text):
                if (int(found["login"]), found["server"]) == (login, server):
                    return found["reason"][:200]
        return ""
