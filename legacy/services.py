"""Import of the single-user bot's data folder (`manage.py import_legacy`, docs/legacy-import.md).

The bot kept its state in a few files, in the folder or its `data/` subfolder:

    accounts.db           SQLite, table `accounts`: account (the MT5 login), nickname, status,
                          broker (optional), pid, created
    custom_mappings.json  {"<requested symbol>": "<broker symbol>"} for every account, or
                          {"<login>": {"<requested>": "<broker symbol>"}} per account
    copy_pairs.json       [{"id", "master_account", "slave_account", "api_key" (or "apiKey"),
                          "status": "active"|"inactive", "settings": {"volume_mode":
                          "fixed"|"multiply"|"percent", "multiplier", "copy_psl",
                          "auto_map_symbol", "auto_map_volume"}}] (or {"pairs": [...]})
    copy_history.json     [{"id", "timestamp", "status": "success"|"error", "master", "slave",
                          "action", "symbol", "volume", "price", "message", "pair_id"}]
                          newest last (or copy_history.jsonl, one object a line); the newest
                          1,000 are imported
    .env                  WEBHOOK_TOKEN=<token> (the folder itself)

Everything is one transaction: a file that cannot be read at all (not SQLite, not JSON, the
wrong shape, outside the folder) stops the import and nothing is written. A row that cannot
be imported (a login that is not a login, a pair whose account is missing, an unknown
action) is skipped and reported with the reason; the rest goes in. Running it again imports
nothing twice: accounts by login, mappings by requested symbol, pairs by their key, history by
the bot's event id. A dry run does all of it and rolls back.
"""

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.services import TokenRefused, webhook_token_adopt
from copytrading.errors import CopyError
from copytrading.models import CopyEvent, CopyExecution, CopyPair
from copytrading.services import pair_by_key, pair_create
from terminals.errors import AccountError, SymbolError
from terminals.models import TradingAccount
from terminals.selectors import symbol_normalize
from terminals.services import account_import, symbol_mapping_set

HISTORY_KEEP = 1000  # the bot kept this many copy events
MAX_FILE_BYTES = 50 * 1024 * 1024
HISTORY_SEQUENCE = "legacy"  # marks imported history rows (CopyEvent.sequence)
VOLUME_MODES = {"fixed": "fixed", "multiply": "multiply", "multiplier": "multiply", "percent": "percent"}
ACTIONS = {
    "BUY": (CopyEvent.Kind.DEAL_ADD, "buy"),
    "SELL": (CopyEvent.Kind.DEAL_ADD, "sell"),
    "CLOSE": (CopyEvent.Kind.DEAL_CLOSE, ""),
    "CLOSE_ALL": (CopyEvent.Kind.DEAL_CLOSE, ""),
    "CLOSE_SYMBOL": (CopyEvent.Kind.DEAL_CLOSE, ""),
    "MODIFY": (CopyEvent.Kind.POSITION_MODIFY, ""),
}


class LegacyFileError(Exception):
    """A file of the folder that cannot be read at all: nothing is imported."""


@dataclass
class ImportReport:
    dry_run: bool = False
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (what, outcome, detail)

    def add(self, what: str, outcome: str, detail: str = "") -> None:
        self.lines.append((what, outcome, detail))

    def count(self, outcome: str) -> int:
        return sum(1 for _, done, _ in self.lines if done == outcome)


class _DryRun(Exception):
    """Raised at the end of a dry run so the transaction rolls back."""


def legacy_import(*, folder: Path, user, dry_run: bool = False) -> ImportReport:
    """Import the bot's folder for `user` in one transaction; see the module docstring.
    Raises LegacyFileError (nothing imported) for a file that cannot be read."""
    report = ImportReport(dry_run=dry_run)
    root = folder.resolve(strict=True)
    try:
        with transaction.atomic():
            accounts = _import_accounts(root, user, report)
            _import_mappings(root, user, accounts, report)
            _import_pairs(root, user, report)
            _import_history(root, user, report)
            _import_token(root, user, report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


# --- files --------------------------------------------------------------------------


def _find(root: Path, name: str) -> Path | None:
    """`name` in the folder or its data/ subfolder; LegacyFileError for one that leads
    outside the folder (a link, a `data` that points elsewhere)."""
    for candidate in (root / name, root / "data" / name):
        if not candidate.exists() and not candidate.is_symlink():
            continue
        resolved = candidate.resolve()
        if not resolved.is_relative_to(root):
            raise LegacyFileError(f"{candidate.relative_to(root)} leads outside the folder; it is not read.")
        if not resolved.is_file():
            raise LegacyFileError(f"{candidate.relative_to(root)} is not a file.")
        if resolved.stat().st_size > MAX_FILE_BYTES:
            raise LegacyFileError(f"{candidate.relative_to(root)} is larger than {MAX_FILE_BYTES // 2**20} MB.")
        return resolved
    return None


def _read_json(root: Path, name: str, report: ImportReport) -> Any:
    path = _find(root, name)
    if path is None:
        report.add(name, "missing", "not in the folder or its data/ subfolder; nothing to import from it")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise LegacyFileError(f"{name} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise LegacyFileError(f"{name} is not JSON ({exc.msg} at line {exc.lineno}).") from None
    except (ValueError, RecursionError):
        raise LegacyFileError(f"{name} is not JSON this command reads.") from None


def _text(value: object, limit: int = 100) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _login(value: object) -> str:
    return str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""


# --- accounts -----------------------------------------------------------------------


def _account_rows(root: Path, report: ImportReport) -> Iterator[dict[str, Any]]:
    path = _find(root, "accounts.db")
    if path is None:
        report.add("accounts.db", "missing", "not in the folder or its data/ subfolder; no accounts imported")
        return
    try:
        # Read-only: the bot's database is never changed.
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LegacyFileError(f"accounts.db cannot be opened ({exc}).") from None
    try:
        connection.row_factory = sqlite3.Row
        columns = {row[1] for row in connection.execute("PRAGMA table_info(accounts)")}
        if "account" not in columns:
            raise LegacyFileError("accounts.db has no table `accounts` with a column `account`.")
        rows = [dict(row) for row in connection.execute("SELECT * FROM accounts")]
    except sqlite3.Error as exc:
        raise LegacyFileError(f"accounts.db is not an SQLite database the bot wrote ({exc}).") from None
    finally:
        connection.close()
    yield from rows


def _import_accounts(root: Path, user, report: ImportReport) -> dict[str, TradingAccount]:
    """The bot's accounts by login, imported now or registered before."""
    found = {}
    for row in _account_rows(root, report):
        login = _login(row.get("account"))
        what = f"account {login[:30] or '(empty)'}"
        try:
            account, created = account_import(
                owner=user, login=login, nickname=_text(row.get("nickname"), 60), broker=_text(row.get("broker"))
            )
        except AccountError as error:
            report.add(what, "skipped", error.message)
            continue
        found[account.login] = account
        if created:
            report.add(what, "imported", "stopped until it is connected with its server and password")
        else:
            report.add(what, "unchanged", "already registered")
    return found


def _import_mappings(root: Path, user, accounts: dict[str, TradingAccount], report: ImportReport) -> None:
    data = _read_json(root, "custom_mappings.json", report)
    if data is None:
        return
    if not isinstance(data, dict):
        raise LegacyFileError("custom_mappings.json must be an object of symbol → broker symbol.")
    per_account = bool(data) and all(isinstance(value, dict) for value in data.values())
    if per_account:
        plans = [(accounts.get(_login(login)), login, mapping) for login, mapping in data.items()]
    else:
        plans = [(account, login, data) for login, account in accounts.items()]
    for account, login, mapping in plans:
        if account is None:
            report.add(f"mappings of {str(login)[:30]}", "skipped", "no such account of this user")
            continue
        for requested, broker_symbol in mapping.items():
            what = f"mapping {str(requested)[:40]} on {account.login}"
            if not isinstance(broker_symbol, str):
                report.add(what, "skipped", "the broker symbol is not text")
                continue
            try:
                name = symbol_normalize(requested)
                if account.symbol_mappings.filter(requested=name, broker_symbol=broker_symbol).exists():
                    report.add(what, "unchanged", f"→ {broker_symbol}")
                    continue
                symbol_mapping_set(account=account, requested=name, broker_symbol=broker_symbol)
            except SymbolError as error:
                report.add(what, "skipped", str(error))
                continue
            report.add(what, "imported", f"→ {broker_symbol}")


# --- copy pairs ---------------------------------------------------------------------


def _pair_fields(settings: object) -> dict[str, Any]:
    """Our pair rule from the bot's settings; ValueError says what is wrong."""
    settings = settings if isinstance(settings, dict) else {}
    mode = VOLUME_MODES.get(str(settings.get("volume_mode", "multiply")).strip().lower())
    if mode is None:
        raise ValueError(f"volume_mode {str(settings.get('volume_mode'))[:20]!r} is not fixed, multiply or percent")
    try:
        factor = Decimal(str(settings.get("multiplier", 1)))
    except InvalidOperation:
        raise ValueError("multiplier is not a number") from None
    if not factor.is_finite() or factor <= 0 or factor > 1000:
        raise ValueError("multiplier must be more than 0 and at most 1000")
    fields: dict[str, Any] = {
        "volume_mode": mode,
        "copy_sl_tp": settings.get("copy_psl", True) is not False,
        "auto_symbol_map": settings.get("auto_map_symbol", True) is not False,
    }
    # The bot's fixed mode sent `multiplier` lots to every slave.
    fields |= {"fixed_volume": factor.quantize(Decimal("0.01"))} if mode == "fixed" else {"multiplier": factor}
    return fields


def _import_pairs(root: Path, user, report: ImportReport) -> None:
    data = _read_json(root, "copy_pairs.json", report)
    if data is None:
        return
    if isinstance(data, dict) and isinstance(data.get("pairs"), list):
        data = data["pairs"]
    if not isinstance(data, list):
        raise LegacyFileError("copy_pairs.json must be a list of pairs.")
    mine = {a.login: a for a in TradingAccount.objects.owned_by(user).alive()}
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            report.add(f"pair #{index + 1}", "skipped", "not an object")
            continue
        master, slave = _login(raw.get("master_account")), _login(raw.get("slave_account"))
        what = f"pair {master[:20] or '?'} → {slave[:20] or '?'}"
        key = raw.get("api_key") or raw.get("apiKey")
        if not isinstance(key, str) or not key.strip():
            report.add(what, "skipped", "it has no api_key")
            continue
        key = key.strip()
        if len(key) > 128:
            report.add(what, "skipped", "its api_key is longer than the 128 characters a key may have")
            continue
        existing = pair_by_key(key=key)
        if existing is not None:
            if existing.owner_id != user.pk:
                report.add(what, "skipped", "its api_key belongs to another user's pair")
            elif (existing.master.login, existing.slave.login) == (master, slave):
                report.add(what, "unchanged", "already imported with this key")
            else:
                report.add(what, "skipped", "its api_key is already the key of another of your pairs")
            continue
        missing = [login or "(empty)" for login in (master, slave) if login not in mine]
        if missing:
            report.add(what, "skipped", f"account {', '.join(missing)} is not one of this user's accounts")
            continue
        try:
            fields = _pair_fields(raw.get("settings"))
            pair, _ = pair_create(owner=user, master=mine[master], slave=mine[slave], key=key, **fields)
        except ValueError as error:
            report.add(what, "skipped", str(error))
            continue
        except CopyError as error:
            report.add(what, "skipped", error.message)
            continue
        if str(raw.get("status", "active")).lower() != "active":
            CopyPair.objects.filter(pk=pair.pk).update(active=False)
        report.add(what, "imported", "with its api_key: the master EA keeps working")


# --- copy history -------------------------------------------------------------------


def _history_rows(root: Path, report: ImportReport) -> list[Any] | None:
    if _find(root, "copy_history.json") is None and (lines := _find(root, "copy_history.jsonl")) is not None:
        rows = []
        for number, line in enumerate(lines.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except (ValueError, RecursionError):
                    report.add(f"history line {number}", "skipped", "not JSON")
        return rows
    data = _read_json(root, "copy_history.json", report)
    if data is None:
        return None
    if isinstance(data, dict) and isinstance(data.get("history"), list):
        data = data["history"]
    if not isinstance(data, list):
        raise LegacyFileError("copy_history.json must be a list of copy events.")
    return data


def _moment(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _import_history(root: Path, user, report: ImportReport) -> None:
    rows = _history_rows(root, report)
    if rows is None:
        return
    if len(rows) > HISTORY_KEEP:
        report.add("copy history", "skipped", f"{len(rows) - HISTORY_KEEP} oldest events beyond the newest 1,000")
        rows = rows[-HISTORY_KEEP:]
    mine = {a.login: a for a in TradingAccount.objects.owned_by(user).alive()}
    for index, raw in enumerate(rows):
        event_id = _text(raw.get("id"), 40) if isinstance(raw, dict) else ""
        what = f"history {event_id or f'#{index + 1}'}"
        if not isinstance(raw, dict) or not event_id:
            report.add(what, "skipped", "not an object with an id")
            continue
        master, slave = mine.get(_login(raw.get("master"))), mine.get(_login(raw.get("slave")))
        action = ACTIONS.get(str(raw.get("action", "")).strip().upper())
        received = _moment(raw.get("timestamp"))
        reason = (
            "its master is not one of this user's accounts" if master is None
            else "its action is not BUY, SELL, CLOSE or MODIFY" if action is None
            else "its timestamp is not a date" if received is None
            else ""
        )  # fmt: skip
        if reason:
            report.add(what, "skipped", reason)
            continue
        outcome = _history_event(user, master, slave, action, event_id, received, raw)
        report.add(what, outcome)


def _history_event(user, master, slave, action, event_id: str, received: datetime, raw: dict) -> str:
    """One bot event as a CopyEvent (and its slave's CopyExecution): history to read, which
    no pair acts on (its order id is the bot's event id, never a master's order)."""
    kind, side = action
    order_id = f"legacy-{event_id}"
    if CopyEvent.objects.filter(master=master, kind=kind, order_id=order_id, sequence=HISTORY_SEQUENCE).exists():
        return "unchanged"
    failed = str(raw.get("status", "")).lower() != "success"
    message = _text(raw.get("message"), 300)
    try:
        volume = Decimal(str(raw.get("volume"))).quantize(Decimal("0.0001"))
        volume = volume if volume.is_finite() and 0 < volume < 10**8 else None
    except InvalidOperation:
        volume = None
    event = CopyEvent.objects.create(
        owner=user,
        master=master,
        kind=kind,
        order_id=order_id,
        sequence=HISTORY_SEQUENCE,
        symbol=_text(raw.get("symbol"), 40),
        side=side,
        volume=volume,
        status=CopyEvent.Status.ERROR if failed else CopyEvent.Status.PROCESSED,
        reason=message,
        pairs_processed=0 if slave is None else 1,
    )
    CopyEvent.objects.filter(pk=event.pk).update(received_at=received)  # auto_now_add stamped it now
    if slave is not None:
        execution = CopyExecution.objects.create(
            owner=user,
            event=event,
            slave=slave,
            master_volume=volume,
            volume_after=volume,
            symbol=event.symbol,
            status=CopyExecution.Status.ERROR if failed else CopyExecution.Status.SUCCESS,
            error=message if failed else "",
            done_at=received,
        )
        CopyExecution.objects.filter(pk=execution.pk).update(created_at=received)
    return "imported"


# --- webhook token ------------------------------------------------------------------


def _env_value(path: Path, name: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LegacyFileError(".env is not UTF-8 text.") from None
    for line in text.splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) > 1:
                return value[1:-1]
            return value.split(" #", 1)[0].strip()
    return None


def _import_token(root: Path, user, report: ImportReport) -> None:
    path = root / ".env"
    if not path.exists() and not path.is_symlink():
        report.add(".env", "missing", "no WEBHOOK_TOKEN imported")
        return
    if not path.resolve().is_relative_to(root) or not path.resolve().is_file():
        raise LegacyFileError(".env leads outside the folder or is not a file; it is not read.")
    token = _env_value(path.resolve(), "WEBHOOK_TOKEN")
    if not token:
        report.add("webhook token", "missing", ".env has no WEBHOOK_TOKEN")
        return
    try:
        changed = webhook_token_adopt(user=user, token=token)
    except TokenRefused as refusal:
        report.add("webhook token", "skipped", str(refusal))
        return
    if changed:
        report.add("webhook token", "imported", "alerts that use it keep working; the previous URL stops")
    else:
        report.add("webhook token", "unchanged", "already this user's token")
