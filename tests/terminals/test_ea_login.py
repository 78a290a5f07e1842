"""An EA bridge terminal logs in with the account's credentials: a start-up configuration,
a restart of the portable terminal, and the EA's word that it is connected.

The simulated EA plays the terminal too: it knows the account's real password and reads the
configuration named on the stand-in terminal64.exe's command line, as MT5 does.
"""

import json
import logging
import os
from pathlib import Path

import psutil
import pytest

from terminals.drivers.base import Filling, OrderRequest, OrderType, TerminalError, TradeAction
from terminals.drivers.ea_protocol import STATUS_FILE
from terminals.instances import instance_status
from tests.fakes.ea_simulator import ea_bridge_driver
from tests.terminals.clocks import WEDNESDAY_NOON, Clock

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in terminal is a POSIX script")

LOGIN, SERVER = 7001, "SimBroker-Demo"
PASSWORD, GUESS = "Real-pass-7001", "Guess-pass-7001"


@pytest.fixture
def bridge(db, tmp_path):
    driver, ea = ea_bridge_driver(tmp_path, password=PASSWORD, clock=Clock(WEDNESDAY_NOON), instance=True)
    yield driver, ea
    ea.close()


def files_holding(secret: str, directory: Path) -> list[str]:
    """Names of the files that hold `secret` (UTF-8 or UTF-16), never the secret itself."""
    needles = (secret.encode(), secret.encode("utf-16-le"))
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    )


def startup_configs(driver) -> list[str]:
    return sorted(path.name for path in driver.instance.glob("login-*"))


def test_right_password_logs_the_terminal_in_and_the_startup_config_is_deleted(bridge, caplog):
    driver, ea = bridge
    caplog.set_level(logging.DEBUG)

    account = driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    running = instance_status(root=driver.instance.parent, login=str(LOGIN))
    arguments = psutil.Process(running.pid).cmdline()
    bought = driver.order_send(
        OrderRequest(action=TradeAction.DEAL, symbol="GOLD", type=OrderType.BUY, volume=0.01, type_filling=Filling.IOC)
    )

    holding = files_holding(PASSWORD, driver.instance)
    logged = PASSWORD in caplog.text
    assert holding == [] and not logged
    assert (account.login, account.server, account.balance) == (LOGIN, SERVER, 10000)
    assert running.running and arguments[-2] == "/portable" and arguments[-1].startswith("/config:login-")
    assert ea.config_modes == [0o600]  # owner-only when the terminal read it
    assert startup_configs(driver) == []
    assert bought.retcode == 10009 and len(driver.positions()) == 1


def test_wrong_password_is_authorization_failed_even_on_a_terminal_already_logged_in(bridge, caplog):
    driver, ea = bridge
    driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TerminalError) as refused:
        driver.connect(login=LOGIN, password=GUESS, server=SERVER)

    message, code = refused.value.message, refused.value.code
    leaked = GUESS in message or PASSWORD in message or GUESS in caplog.text
    holding = files_holding(GUESS, driver.instance)
    assert not leaked and holding == []
    assert code == -6 and message == "Authorization failed: Invalid account"
    assert ea.config_modes == [0o600, 0o600] and startup_configs(driver) == []
    # Not left running to try a refused password again (a broker may lock the account).
    assert not instance_status(root=driver.instance.parent, login=str(LOGIN)).running


def test_other_server_is_refused(bridge):
    driver, _ = bridge

    with pytest.raises(TerminalError) as refused:
        driver.connect(login=LOGIN, password=PASSWORD, server="SimStandard-Demo")

    assert refused.value.code == -6 and "Invalid account" in refused.value.message


def test_terminal_that_never_connects_is_a_timeout_and_is_stopped(db, tmp_path):
    driver, ea = ea_bridge_driver(tmp_path, password=PASSWORD, instance=True, login_timeout=0.5)
    ea.paused = True  # the terminal runs, its EA never writes a snapshot
    try:
        with pytest.raises(TerminalError) as silent:
            driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
        stopped = not instance_status(root=driver.instance.parent, login=str(LOGIN)).running
    finally:
        ea.close()

    assert silent.value.code == -10005
    assert f"did not log in to {LOGIN} on {SERVER} within 0.5 s" in silent.value.message
    assert stopped and startup_configs(driver) == []


def test_snapshot_of_the_terminal_before_the_restart_does_not_count(bridge):
    driver, ea = bridge
    driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    ea.paused = True  # the new terminal's EA has not written yet; the old snapshot is fresh and connected
    driver.login_timeout = 0.3

    with pytest.raises(TerminalError) as silent:
        driver.connect(login=LOGIN, password=GUESS, server=SERVER)

    assert silent.value.code == -10005


@pytest.mark.parametrize("password", ["two\nlines", "x\r[StartUp]", "nul\x00"])
def test_password_a_startup_file_cannot_carry_is_refused_before_anything_starts(bridge, password):
    driver, ea = bridge

    with pytest.raises(TerminalError) as refused:
        driver.connect(login=LOGIN, password=password, server=SERVER)

    leaked = password in refused.value.message
    assert not leaked and refused.value.code == -2 and "control character" in refused.value.message
    assert ea.config_modes == [] and startup_configs(driver) == []
    assert not instance_status(root=driver.instance.parent, login=str(LOGIN)).running


def test_an_ea_that_does_not_report_connection_cannot_complete_a_login(bridge, monkeypatch):
    driver, ea = bridge
    publish = ea.publish_status

    def as_an_older_ea() -> None:
        publish()
        path = driver.files_dir / STATUS_FILE
        status = json.loads(path.read_text())
        del status["connected"], status["last_error"]
        path.write_text(json.dumps(status))

    monkeypatch.setattr(ea, "publish_status", as_an_older_ea)

    with pytest.raises(TerminalError) as refused:
        driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)

    assert refused.value.code == -5 and "update the EA" in refused.value.message


def test_an_older_ea_without_the_connection_fields_still_serves_reads(db, tmp_path):
    driver, ea = ea_bridge_driver(tmp_path, password=PASSWORD)
    ea.paused = True  # keeps the snapshot below as the only one
    path = driver.files_dir / STATUS_FILE
    status = json.loads(path.read_text())
    del status["connected"], status["last_error"]
    path.write_text(json.dumps(status))

    account = driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)

    assert account.login == LOGIN and driver.symbol_infos(["GOLD", "NOPE"])[0].name == "GOLD"


def test_terminal_that_loses_its_server_or_its_account_later_reads_as_such(bridge):
    driver, ea = bridge
    driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    ea.connected = False  # the network is gone; MT5 keeps trying

    with pytest.raises(TerminalError) as offline:
        driver.account_info()
    ea.last_error = "Invalid account"  # the broker changed the password
    with pytest.raises(TerminalError) as refused:
        driver.order_send(
            OrderRequest(action=TradeAction.DEAL, symbol="GOLD", type=OrderType.BUY, volume=0.01, type_filling=1)
        )

    assert offline.value.code == -10004 and f"not connected to {SERVER}" in offline.value.message
    assert refused.value.code == -6 and refused.value.message == "Authorization failed: Invalid account"
    assert ea.commands == []


def test_a_start_leaves_no_startup_config_of_an_interrupted_login_behind(bridge):
    driver, _ = bridge
    (driver.instance / "login-0123456789abcdef.ini").write_text("[Common]\nPassword=left-behind\n")
    (driver.instance / "login-fedcba9876543210.ini.tmp").write_text("[Common]\nPassword=left")

    driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)

    assert startup_configs(driver) == []


def test_a_refusal_only_the_terminals_journal_names_fails_the_login_at_once(bridge):
    driver, ea = bridge
    ea.reports_last_error = False  # as our MQL5 EA, which cannot read the journal
    driver.login_timeout = 30.0

    with pytest.raises(TerminalError) as refused:
        driver.connect(login=LOGIN, password=GUESS, server=SERVER)
    journal = next((driver.instance / "logs").glob("*.log")).read_bytes().decode("utf-16")
    accepted = driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)

    assert (refused.value.code, refused.value.message) == (-6, "Authorization failed: Invalid account")
    assert f"'{LOGIN}': authorization on {SERVER} failed (Invalid account)" in journal
    assert GUESS not in journal
    # The refusal already in the journal is not taken for the next login's.
    assert accepted.login == LOGIN
