"""docs/ea-protocol.md is the specification: the MQL5 EA, the driver and the simulated EA must
name every field it names, and the EA must write no field it does not. MetaEditor does not run
here, so these read the EA's source; the simulator and driver are exercised for real in
tests/terminals/test_ea_bridge.py and tests/copytrading/test_ea_slave.py."""

import dataclasses
import re
from pathlib import Path

import pytest

from terminals.drivers.base import AccountInfo, Deal, PendingOrder, Position, SymbolInfo, Tick
from terminals.retcodes import TRADE_RETCODES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "ea-protocol.md").read_text(encoding="utf-8")
EA = (ROOT / "ea" / "MT5SaaS_AllInOne.mq5").read_text(encoding="utf-8")
# The driver and its file formats.
DRIVER = "".join(
    (ROOT / "terminals" / "drivers" / name).read_text(encoding="utf-8")
    for name in ("ea_protocol.py", "ea_bridge.py", "ea_deals.py")
)
SIMULATOR = (ROOT / "tests" / "fakes" / "ea_simulator.py").read_text(encoding="utf-8")
# What reads a master's event: the endpoint (key, account) and the event's parser.
COPY_API = (ROOT / "copytrading" / "api.py").read_text(encoding="utf-8") + (
    ROOT / "copytrading" / "events.py"
).read_text(encoding="utf-8")

# The single-user bot's input names the issue asks the EA to keep.
BOT_INPUTS = {
    "EnableWebhook", "EnableMaster", "EnableSlave", "Master_ServerURL", "Master_APIKey", "Master_SendOnOpen",
    "Master_SendOnClose", "Master_SendOnModify", "Master_HttpTimeoutMs", "Slave_InstanceRootPath",
    "Slave_FilePattern", "Slave_PollingSeconds", "Webhook_InstanceRootPath", "Webhook_FilePattern",
    "Webhook_PollingSeconds", "EnableLogging", "LogLevel",
}  # fmt: skip


def table(heading: str) -> dict[str, str]:
    """field → meaning, from the markdown table under `### heading` (or `## heading`)."""
    match = re.search(rf"^#{{2,3}} {re.escape(heading)}\n(.*?)(?=^#)", DOC + "\n#", re.S | re.M)
    assert match, f"no section {heading!r} in docs/ea-protocol.md"
    rows = re.findall(r"^\| `([^`]+)` \|[^|]*\|(.*)\|\s*$", match[1], re.M)
    assert rows, f"no table under {heading!r}"
    return {name: meaning.strip() for name, meaning in rows}


def required(heading: str) -> set[str]:
    return {name for name, meaning in table(heading).items() if not meaning.startswith("optional")}


def ea_literals() -> set[str]:
    return set(re.findall(r'\\?"([a-z_]+)\\?"', EA))


def ea_written_keys() -> set[str]:
    """Every key the EA writes into JSON: JStr/JInt/JNum/JBool("key", …) and "\\"key\\":"."""
    return set(re.findall(r'J(?:Str|Int|Num|Bool)\("([a-z_]+)"', EA)) | set(re.findall(r'\\"([a-z_]+)\\":', EA))


def names(cls) -> set[str]:
    return {spec.name for spec in dataclasses.fields(cls)}


DOC_FIELDS = {
    heading: set(table(heading))
    for heading in (
        "Command fields", "Result fields", "Status fields", "Account fields", "Symbol fields", "Position fields",
        "Order fields", "Deal fields", "Master event fields", "Deals request fields", "Deals report",
    )
}  # fmt: skip


@pytest.mark.parametrize("heading", sorted(DOC_FIELDS))
def test_the_ea_names_every_field_of_the_protocol(heading):
    missing = DOC_FIELDS[heading] - ea_literals()

    assert not missing, f"{heading}: the EA never names {sorted(missing)}"


def test_the_ea_writes_no_field_the_protocol_does_not_define():
    documented = set().union(*DOC_FIELDS.values()) | {"last_deal", "dropped"}  # the master queue's cursor line

    assert ea_written_keys() - documented == set()
    assert "last_deal" in DOC and "dropped" in DOC


def test_command_fields_are_those_the_driver_writes_and_the_simulator_reads():
    read_by_simulator = set(re.findall(r'field\(command, "([a-z_]+)"', SIMULATOR))
    written_by_driver = set(re.findall(r'"([a-z_]+)"(?::|\] =)', DRIVER.split("def command_fields", 1)[1]))
    written_by_driver |= set(re.findall(r'^\s+"([a-z_]+)": ', DRIVER.split("def _exchange", 1)[1], re.M))

    assert read_by_simulator == DOC_FIELDS["Command fields"]
    assert DOC_FIELDS["Command fields"] - {"order_id"} <= written_by_driver
    assert 'command["order_id"]' in DRIVER


def test_result_and_status_fields_are_those_the_driver_reads():
    read_result = set(re.findall(r'field\(data, "([a-z_]+)"', DRIVER.split("def parse_result", 1)[1]))
    read_status = set(re.findall(r'field\(data, "([a-z_]+)"', DRIVER.split("def parse_status", 1)[1].split("def ")[0]))
    read_status |= {"account"}  # _record(AccountInfo, data.get("account"))

    assert read_result | {"command_id"} == DOC_FIELDS["Result fields"]
    assert read_status == required("Status fields")
    assert names(AccountInfo) == DOC_FIELDS["Account fields"]
    assert names(SymbolInfo) | (names(Tick) - {"symbol"}) == DOC_FIELDS["Symbol fields"]
    assert names(Position) == DOC_FIELDS["Position fields"]
    assert names(PendingOrder) == DOC_FIELDS["Order fields"]
    assert names(Deal) == DOC_FIELDS["Deal fields"]


def test_deals_reports_are_what_the_driver_writes_and_reads_and_the_simulator_answers():
    deals = DRIVER.split('"""Deals reports', 1)[1]
    written = set(re.findall(r'"([a-z_]+)": ', deals.split("def _report", 1)[1].split("def _await", 1)[0]))
    read_header = set(re.findall(r'field\(head, "([a-z_]+)"', deals))
    read_by_simulator = set(re.findall(r'"([a-z_]+)"', SIMULATOR.split("def _report_deals", 1)[1].split("def ", 1)[0]))
    record = EA.split("string DealRecord(", 1)[1].split("\n  }\n", 1)[0]

    assert written == DOC_FIELDS["Deals request fields"]
    assert read_header == DOC_FIELDS["Deals report"]
    assert DOC_FIELDS["Deals request fields"] | DOC_FIELDS["Deals report"] <= read_by_simulator
    # Every deal field, in status.json and in reports alike, from one writer in the EA.
    assert set(re.findall(r'J(?:Str|Int|Num)\("([a-z_]+)"', record)) == names(Deal) == DOC_FIELDS["Deal fields"]
    assert "DealRecord(ticket, offset_ms)" in EA.split("string StatusDeals()", 1)[1].split("\n  }\n", 1)[0]
    assert "DealsRequestsRun();" in EA.split("void OnTimer()", 1)[1]
    assert '#define DEALS_REQUEST_PREFIX  "deals_request_"' in EA and '"deals_request_"' in DRIVER


def test_master_event_fields_are_those_the_copy_api_reads():
    # event_id is for logs: the service takes an event's identity from deal or sequence.
    unread = {name for name in DOC_FIELDS["Master event fields"] if f'"{name}"' not in COPY_API}

    assert unread == {"event_id"}
    master_simulator = SIMULATOR.split("class EAMaster", 1)[1]
    missing = {name for name in DOC_FIELDS["Master event fields"] if not re.search(rf"\b{name}\b", master_simulator)}
    assert missing == set()


def test_the_ea_declares_the_documented_inputs_named_as_in_the_bot():
    declared = set(re.findall(r"^input\s+(?!group)\w+\s+(\w+)\s*=", EA, re.M))

    assert declared == set(table("The EA's inputs"))
    assert declared >= BOT_INPUTS


def test_the_ea_gives_every_retcode_the_service_knows_the_same_words():
    words = dict(re.findall(r'case (\d+):\s+return "([^"]+)";', EA))

    for code, (name, text) in TRADE_RETCODES.items():
        assert words.get(str(code)) == f"{text} ({name} {code})", code


def test_the_ea_keeps_the_protocol_constants():
    for constant in (
        "#define PROTOCOL_VERSION      1",
        "#define COMMENT_LENGTH        31",
        '#define WEBHOOK_PREFIX        "webhook_command_"',
        '#define SLAVE_PREFIX          "slave_command_"',
        '#define CHECK_PREFIX          "check_command_"',
        '#define STATUS_FILE           "status.json"',
        '#define LINK_PREFIX           "COPY_"',
    ):
        assert constant in EA
    # Atomic rename, the claim by delete, and the result after the snapshot.
    assert "FileMove(temporary, 0, name, FILE_REWRITE)" in EA
    handle = EA.split("void CommandHandle", 1)[1].split("\n  }\n", 1)[0]
    assert handle.index("FileDelete(name)") < handle.index("CommandExecute(")
    assert handle.index("StatusWrite()") < handle.index("ResultWrite(")


def test_the_ea_uses_only_functions_of_the_documented_mql5_api_or_its_own():
    """Every called name is an MQL5 function checked against the MQL5 reference, or defined in
    the EA. A typo or an invented function fails here rather than in MetaEditor."""
    mql5 = {
        "AccountInfoDouble", "AccountInfoInteger", "AccountInfoString", "ArrayResize", "ArraySize", "ArraySort",
        "CharArrayToString", "DoubleToString", "EventKillTimer", "EventSetMillisecondTimer", "FileClose",
        "FileDelete", "FileFindClose", "FileFindFirst", "FileFindNext", "FileIsExist", "FileMove", "FileOpen",
        "FileReadArray", "FileSize", "FileWriteArray", "GetLastError", "GetTickCount64", "HistoryDealGetDouble",
        "HistoryDealGetInteger", "HistoryDealGetString", "HistoryDealGetTicket", "HistoryDealSelect",
        "HistoryDealsTotal", "HistorySelect", "IntegerToString", "MQLInfoInteger", "MQLInfoString", "MathAbs",
        "MathIsValidNumber", "MathMax", "MathMin", "MathRound", "NormalizeDouble", "OrderCheck", "OrderGetDouble",
        "OrderGetInteger",
        "OrderGetString", "OrderGetTicket", "OrderSelect", "OrderSend", "OrdersTotal", "PositionGetDouble",
        "PositionGetInteger", "PositionGetString", "PositionGetTicket", "PositionSelectByTicket", "PositionsTotal",
        "Print", "ResetLastError", "ShortToString", "Sleep", "StringCompare", "StringFind", "StringFormat",
        "StringGetCharacter", "StringLen", "StringReplace", "StringSplit", "StringSubstr", "StringToCharArray",
        "StringToDouble", "StringToInteger", "StringToLower", "StringTrimRight", "SymbolInfoDouble",
        "SymbolInfoInteger", "SymbolInfoString", "SymbolInfoTick", "SymbolName", "SymbolSelect", "SymbolsTotal",
        "TerminalInfoInteger", "TerminalInfoString", "TimeCurrent", "TimeGMT", "TimeTradeServer", "WebRequest",
        "ZeroMemory",
    }  # fmt: skip
    keywords = {"if", "for", "while", "switch", "return", "sizeof"}
    code = re.sub(r"'(?:[^'\\]|\\.)'", "0", EA)  # char literals first: '"' is one
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', code)
    code = re.sub(r"//[^\n]*", "", code)
    defined = set(re.findall(r"^\s*(?:\w+\s+)+(\w+)\s*\([^;{]*\)\s*(?:\{|$)", code, re.M))
    called = set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", code))

    unknown = called - mql5 - defined - keywords - {"CJsonObject"}
    assert not unknown, f"not MQL5 functions the EA may call: {sorted(unknown)}"
