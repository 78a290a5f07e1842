"""Deals reports of the EA bridge (docs/ea-protocol.md, "Deals reports"): the host asks for the
account's history between two moments with deals_request_<id>.json and the EA answers with
deals_<id>.jsonl, a header and one deal a line. A report is taken whole or refused whole."""

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import Deal, DealEntry, DealReason, DealType, TerminalError
from .ea_protocol import PROTOCOL_VERSION, ProtocolError, field, load_json_object, write_json_atomically

logger = logging.getLogger(__name__)

REQUEST_PREFIX, REPORT_PREFIX = "deals_request_", "deals_"
REPORT_LIMIT = 1000  # deals a report may hold: a few hundred kB for the host to read at once
MAX_PAGES = 1000
LATE_KEPT = 100
PARTIAL_FILE_GRACE = 0.5
RECEIVE_FAILED, NO_ANSWER = -10002, -10001
DEAL_FIELDS = {spec.name: spec.type for spec in dataclasses.fields(Deal)}
KNOWN = {"type": set(DealType), "entry": set(DealEntry), "reason": set(DealReason)}


@dataclass(frozen=True)
class Report:
    deals: list[Deal]
    complete: bool


def deal_record(data: object, where: str) -> Deal:
    """One deal line; ProtocolError for a field missing, mistyped, unknown, or a value MT5 never gives."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{where} is not an object")
    if unknown := sorted(set(data) - DEAL_FIELDS.keys()):
        raise ProtocolError(f"{where} has a field this host does not know: {unknown[0][:40]!r}")
    values = {name: field(data, name, kind, where=where) for name, kind in DEAL_FIELDS.items()}
    for name, allowed in KNOWN.items():
        if values[name] not in allowed:
            raise ProtocolError(f"{where}.{name} {values[name]} is not one of MT5's")
    if values["ticket"] <= 0 or values["volume"] < 0:
        raise ProtocolError(f"{where}: a ticket must be positive and a volume not negative")
    return Deal(**values)


def parse_report(text: str, *, request_id: str, account: int, window: tuple[int, int]) -> Report:
    """A deals report, checked line by line against the request; ProtocolError refuses it whole."""
    if not text.endswith("\n"):
        raise ProtocolError("the report does not end with a line break: cut short")
    header, *records = text[:-1].split("\n")
    head = load_json_object(header)
    if field(head, "version", int) != PROTOCOL_VERSION:
        raise ProtocolError(f"the report speaks EA protocol {head['version']}, this host {PROTOCOL_VERSION}")
    if field(head, "request_id", str) != request_id:
        raise ProtocolError(f"the report answers request {head['request_id'][:64]!r}, not {request_id!r}")
    if (error := field(head, "error", str)) != "":
        raise ProtocolError(f"the EA could not read the history: {error[:200]}")
    if field(head, "account", int) != account:
        raise ProtocolError(f"the report is of account {head['account']}, not {account}")
    if field(head, "count", int) != len(records):
        raise ProtocolError(f"the report announces {head['count']} deals and holds {len(records)}: cut short")
    complete = field(head, "complete", bool)
    deals = []
    for number, line in enumerate(records, start=2):
        deal = deal_record(load_json_object(line), f"line {number}")
        if not window[0] <= deal.time_msc <= window[1]:
            raise ProtocolError(f"line {number}: deal {deal.ticket} is outside the window asked for")
        deals.append(deal)
    return Report(deals, complete)


class DealsExchange:
    """Reports asked of one EA by one driver. `wait` pauses between looks (the EA's turn in tests)."""

    def __init__(
        self, files_dir: Path, *, timeout: float, poll_interval: float, clock: Callable[[], float], wait
    ) -> None:
        self.files_dir, self.timeout, self.poll_interval = files_dir, timeout, poll_interval
        self.clock, self.wait = clock, wait
        self.withdrawn: set[str] = set()  # requests the EA may still answer late: their reports are deleted

    def history(self, account: int, since_msc: int, until_msc: int) -> list[Deal]:
        """Every deal with since <= time_msc <= until, oldest first, page by page; TerminalError
        when a report is refused or does not come (nothing returned then)."""
        self._forget_late()
        found: dict[int, Deal] = {}
        start = since_msc
        for _ in range(MAX_PAGES):
            report = self._report(account, start, until_msc)
            fresh = [deal for deal in report.deals if deal.ticket not in found]
            found.update((deal.ticket, deal) for deal in fresh)
            if report.complete:
                return sorted(found.values(), key=lambda d: (d.time_msc, d.ticket))
            if not fresh:
                break  # a full page of one millisecond: the next would be the same
            start = report.deals[-1].time_msc
        logger.error("EA deals report for %s: no progress past %s ms; refused", account, start)
        raise TerminalError(RECEIVE_FAILED, f"The EA's deals report made no progress past {start} ms")

    def _report(self, account: int, since_msc: int, until_msc: int) -> Report:
        now_msc = int(self.clock() * 1000)
        request_id = f"{now_msc:013d}-{secrets.token_hex(6)}"
        request = {
            "version": PROTOCOL_VERSION, "request_id": request_id, "account": account, "since_msc": since_msc,
            "until_msc": until_msc, "limit": REPORT_LIMIT, "expires_msc": now_msc + int(self.timeout * 1000),
        }  # fmt: skip
        request_path = self.files_dir / f"{REQUEST_PREFIX}{request_id}.json"
        try:
            write_json_atomically(request_path, request)
        except OSError as exc:
            raise TerminalError(NO_ANSWER, f"Could not write the deals request for the EA: {exc}") from None
        return self._await(request_path, request_id, account, (since_msc, until_msc))

    def _await(self, request_path: Path, request_id: str, account: int, window: tuple[int, int]) -> Report:
        path = self.files_dir / f"{REPORT_PREFIX}{request_id}.jsonl"
        deadline, broken_since = time.monotonic() + self.timeout, None
        while True:
            try:
                report = parse_report(
                    path.read_text(encoding="utf-8-sig"), request_id=request_id, account=account, window=window
                )
            except FileNotFoundError:
                pass
            except (OSError, UnicodeDecodeError, ProtocolError) as exc:
                # A writer that is not atomic gets a moment; then the report is refused whole.
                broken_since = broken_since or time.monotonic()
                if time.monotonic() - broken_since >= PARTIAL_FILE_GRACE or time.monotonic() >= deadline:
                    _delete(path, request_path)
                    logger.error("EA deals report %s refused: %s", request_id, exc)
                    raise TerminalError(RECEIVE_FAILED, f"The EA's deals report was refused: {exc}") from None
            else:
                _delete(path, request_path)
                return report
            if time.monotonic() >= deadline:
                self._withdraw(request_path, request_id)
                raise TerminalError(NO_ANSWER, f"The EA did not report deals within {self.timeout:g} s")
            self.wait(self.poll_interval)

    def _withdraw(self, request_path: Path, request_id: str) -> None:
        try:
            request_path.unlink()
        except OSError:  # gone (the EA claimed it) or held open: its report may come late
            self.withdrawn.add(request_id)
            logger.warning("EA deals request %s: taken but not answered in time", request_id)

    def _forget_late(self) -> None:
        """Delete the late reports of requests this driver stopped waiting for."""
        for request_id in sorted(self.withdrawn):
            path = self.files_dir / f"{REPORT_PREFIX}{request_id}.jsonl"
            if path.exists():
                _delete(path)
                self.withdrawn.discard(request_id)
        while len(self.withdrawn) > LATE_KEPT:  # ids start with their epoch ms: the oldest go first
            self.withdrawn.discard(min(self.withdrawn))


def _delete(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # held open by the EA: left for a later look
            logger.warning("Could not delete %s: %s", path.name, exc)
