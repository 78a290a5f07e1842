"""manage.py import_legacy against folders laid out as the single-user bot left them."""

import json
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.services import webhook_token_adopt
from copytrading.models import CopyEvent, CopyExecution, CopyPair
from terminals.models import SymbolMapping, TradingAccount
from terminals.services import account_connect
from tests.factories import TradingAccountFactory, UserFactory

TOKEN = "Lg7-bot_token.from~env-2024"
MASTER_KEY, SLAVE_KEY = "ctk_Q2FtZWxDYXNlS2V5Rm9yTWFzdGVy", "ctk_U2Vjb25kUGFpcktleUZvclNsYXZl"


def legacy_folder(root: Path, *, accounts=None, history_events: int = 3) -> Path:
    """A bot folder: .env at the top, the rest in data/, as the bot wrote them."""
    data = root / "data"
    data.mkdir(parents=True)
    (root / ".env").write_text(f'SECRET_KEY=flask-secret\nWEBHOOK_TOKEN="{TOKEN}"\nEXTERNAL_BASE_URL=http://x\n')
    database = sqlite3.connect(data / "accounts.db")
    database.execute(
        "CREATE TABLE accounts (account TEXT PRIMARY KEY, nickname TEXT, status TEXT, broker TEXT,"
        " pid INTEGER, created TEXT)"
    )
    rows = accounts or [
        ("61000001", "Gold master", "Online", "Exness", 4120, "2024-05-01T10:00:00"),
        ("61000002", "Slave A", "Offline", "ICMarkets", None, "2024-05-01T10:05:00"),
        ("61000003", "Slave B", "Online", None, None, "2024-05-02T09:00:00"),
        ("../../etc/passwd", "bad", "Offline", None, None, ""),
    ]
    database.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)", rows)
    database.commit()
    database.close()
    (data / "custom_mappings.json").write_text(json.dumps({"xauusd": "GOLD", "us30": "US30.cash"}))
    settings = {"auto_map_symbol": True, "auto_map_volume": True, "copy_psl": True}
    pairs = [
        {
            "id": "pair_1714557600000", "master_account": "61000001", "slave_account": "61000002",
            "master_nickname": "Gold master", "slave_nickname": "Slave A", "api_key": MASTER_KEY,
            "status": "active", "settings": {**settings, "volume_mode": "multiply", "multiplier": 2.0},
            "created": "2024-05-01T10:10:00", "updated": "2024-05-01T10:10:00",
        },
        {
            "id": "pair_1714557700000", "master_account": "61000001", "slave_account": "61000003",
            "apiKey": SLAVE_KEY, "status": "inactive",
            "settings": {**settings, "volume_mode": "fixed", "multiplier": 0.05, "copy_psl": False},
        },
        {"id": "pair_x", "master_account": "61000001", "slave_account": "99999999", "api_key": "ctk_unknown-slave"},
    ]  # fmt: skip
    (data / "copy_pairs.json").write_text(json.dumps(pairs, indent=2))
    history = [
        {
            "id": str(1714558000000 + n), "timestamp": f"2024-05-01T11:{n % 60:02d}:00", "status": "success",
            "master": "61000001", "slave": "61000002", "action": "BUY", "symbol": "XAUUSD", "volume": 0.2,
            "price": 2330.5, "message": "Command sent successfully", "pair_id": "pair_1714557600000",
        }
        for n in range(history_events)
    ]  # fmt: skip
    history.append(
        {"id": "err-1", "timestamp": "2024-05-01T12:00:00", "status": "error", "master": "61000001",
         "slave": "61000003", "action": "CLOSE", "symbol": "XAUUSD", "message": "Slave account offline"}
    )  # fmt: skip
    history.append({"id": "odd-1", "timestamp": "2024-05-01T12:01:00", "master": "61000001", "action": "HEDGE"})
    (data / "copy_history.json").write_text(json.dumps(history))
    return root


def run(folder: Path, email: str = "alice@example.com", *options: str) -> str:
    out = StringIO()
    call_command("import_legacy", str(folder), "--user", email, *options, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "accounts": TradingAccount.objects.count(),
        "mappings": SymbolMapping.objects.count(),
        "pairs": CopyPair.objects.count(),
        "events": CopyEvent.objects.count(),
        "executions": CopyExecution.objects.count(),
    }


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.com")


@pytest.fixture
def folder(tmp_path) -> Path:
    return legacy_folder(tmp_path / "bot")


def test_import_brings_accounts_mappings_pairs_history_and_the_token_over(folder, alice, api_client):
    output = run(folder)

    accounts = {a.login: a for a in TradingAccount.objects.owned_by(alice)}
    assert set(accounts) == {"61000001", "61000002", "61000003"}
    master = accounts["61000001"]
    assert (master.nickname, master.broker, master.kind, master.status) == (
        "Gold master",
        "Exness",
        "ea_bridge",
        "stopped",
    )
    assert "connect it" in master.status_reason
    assert "skipped    account ../../etc/passwd: '../../etc/passwd' is not an MT5 login" in output
    mapped = set(SymbolMapping.objects.owned_by(alice).values_list("account__login", "requested", "broker_symbol"))
    assert ("61000002", "XAUUSD", "GOLD") in mapped and ("61000003", "US30", "US30.cash") in mapped
    assert len(mapped) == 6
    multiply, fixed = CopyPair.objects.owned_by(alice).order_by("pk")
    assert (multiply.volume_mode, multiply.multiplier, multiply.active, multiply.copy_sl_tp) == (
        "multiply",
        2,
        True,
        True,
    )
    assert (fixed.volume_mode, str(fixed.fixed_volume), fixed.active, fixed.copy_sl_tp) == (
        "fixed",
        "0.05",
        False,
        False,
    )
    assert "pair 61000001 → 99999999: account 99999999 is not one of this user's accounts" in output
    # The master EA's key keeps working: the pair answers it (its slave is stopped, so the copy is an error).
    answer = Client().post(
        "/api/copy/trade",
        {"event": "deal_add", "order_id": "1", "account": "61000001", "symbol": "XAUUSD", "type": "BUY", "volume": 1},
        content_type="application/json",
        headers={"X-API-Key": MASTER_KEY},
    )
    assert answer.status_code == 200 and answer.json()["pairs_processed"] == 1
    api_client.force_login(alice)
    assert api_client.get("/auth/webhook-token").json()["token"] == TOKEN
    history = api_client.get("/api/copy/history").json()
    imported = [e for e in history["results"] if e["order_id"].startswith("legacy-")]
    assert len(imported) == 4
    assert "skipped    history odd-1: its action is not BUY, SELL, CLOSE or MODIFY" in output
    failed = CopyExecution.objects.get(event__order_id="legacy-err-1")
    assert (failed.status, failed.error, failed.slave.login) == ("error", "Slave account offline", "61000003")


def test_importing_again_duplicates_nothing(folder, alice):
    run(folder)
    before = snapshot()

    again = run(folder)

    assert snapshot() == before
    assert "Done: 0 imported, 16 unchanged, 3 skipped, 0 missing." in again
    assert not [line for line in again.splitlines() if line.startswith("imported")]


def test_dry_run_reports_everything_and_changes_nothing(folder, alice, api_client):
    output = run(folder, "alice@example.com", "--dry-run")

    assert snapshot() == {"accounts": 0, "mappings": 0, "pairs": 0, "events": 0, "executions": 0}
    assert "imported   account 61000001" in output and "imported   webhook token" in output
    assert "Dry run, nothing changed" in output
    api_client.force_login(alice)
    assert api_client.get("/auth/webhook-token").json()["token"] != TOKEN


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("data/accounts.db", b"SQLite format 2\x00garbage" * 40, "accounts.db is not an SQLite database"),
        ("data/copy_pairs.json", b'[{"master_account": "61000001", "api_k', "copy_pairs.json is not JSON"),
        ("data/copy_history.json", b'{"history": "none"}', "copy_history.json must be a list"),
        ("data/custom_mappings.json", b'["GOLD"]', "custom_mappings.json must be an object"),
        ("data/copy_pairs.json", b"\xff\xfe\x00garbage", "copy_pairs.json is not UTF-8"),
    ],
)
def test_a_corrupt_file_imports_nothing_and_says_which(folder, alice, name, content, words):
    (folder / name).write_bytes(content)

    with pytest.raises(CommandError, match="Nothing was imported") as refused:
        run(folder)

    assert words in str(refused.value)
    assert snapshot() == {"accounts": 0, "mappings": 0, "pairs": 0, "events": 0, "executions": 0}


def test_missing_files_are_reported_and_the_rest_imported(tmp_path, alice):
    folder = tmp_path / "bot"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "copy_history.json").write_text("[]")

    output = run(folder)

    for name in ("accounts.db", "custom_mappings.json", "copy_pairs.json", ".env"):
        assert f"missing    {name}" in output
    assert snapshot()["accounts"] == 0


def test_a_token_another_user_has_is_refused_and_stays_theirs(folder, alice, api_client):
    bob = UserFactory(username="bob", email="bob@example.com")
    webhook_token_adopt(user=bob, token=TOKEN)

    output = run(folder)

    assert "skipped    webhook token: Another user already has this webhook token." in output
    assert TOKEN not in output
    api_client.force_login(bob)
    assert api_client.get("/auth/webhook-token").json()["token"] == TOKEN
    api_client.force_login(alice)
    assert api_client.get("/auth/webhook-token").json()["token"] != TOKEN


def test_accounts_and_keys_of_another_user_are_not_taken(folder, alice):
    bob = UserFactory(username="bob", email="bob@example.com")
    theirs = TradingAccountFactory(owner=bob, login="61000003")

    output = run(folder)

    assert "skipped    account 61000003: MT5 account 61000003 is registered by another user." in output
    assert TradingAccount.objects.get(login="61000003") == theirs
    assert "pair 61000001 → 61000003: account 61000003 is not one of this user's accounts" in output
    assert list(CopyPair.objects.values_list("owner__username", flat=True)) == ["alice"]
    # Bob imports the same folder: the keys are Alice's now.
    bob_output = run(folder, "bob@example.com")
    assert "its api_key belongs to another user's pair" in bob_output
    assert CopyPair.objects.filter(owner=bob).count() == 0


@pytest.mark.parametrize("escape", ["file", "directory"])
def test_links_that_lead_outside_the_folder_are_refused(tmp_path, alice, escape):
    folder = legacy_folder(tmp_path / "bot")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "copy_pairs.json").write_text("[]")
    if escape == "file":
        (folder / "data" / "copy_pairs.json").unlink()
        (folder / "data" / "copy_pairs.json").symlink_to(outside / "copy_pairs.json")
    else:
        for child in (folder / "data").iterdir():
            child.unlink()
        (folder / "data").rmdir()
        (folder / "data").symlink_to(outside, target_is_directory=True)

    with pytest.raises(CommandError, match="leads outside the folder"):
        run(folder)

    assert snapshot()["accounts"] == 0


def test_history_keeps_the_newest_thousand(tmp_path, alice):
    folder = legacy_folder(tmp_path / "bot", history_events=1003)

    output = run(folder)

    assert "skipped    copy history: 5 oldest events beyond the newest 1,000" in output
    assert CopyEvent.objects.filter(order_id__startswith="legacy-").count() == 999  # and the HEDGE one is skipped


def test_unknown_user_or_folder_is_a_clear_error(folder, alice, tmp_path):
    with pytest.raises(CommandError, match="No user with the email"):
        run(folder, "nobody@example.com")
    with pytest.raises(CommandError, match="is not a folder"):
        run(tmp_path / "nowhere")


def test_connecting_an_imported_account_completes_it_and_keeps_its_pairs(folder, alice):
    run(folder)
    imported = TradingAccount.objects.get(login="61000001")

    connected = account_connect(
        owner=alice, login="61000001", password="pw", server="SimStandard-Demo", kind="simulated"
    )

    assert connected.pk == imported.pk
    assert (connected.server, connected.status, connected.status_reason) == ("SimStandard-Demo", "online", "")
    assert connected.nickname == "Gold master"
    assert TradingAccount.objects.filter(login="61000001").count() == 1
    assert CopyPair.objects.filter(master=connected).count() == 2
