import pickle

import pytest

from terminals.models import SymbolMapping
from terminals.symbols import (
    SymbolAmbiguous,
    SymbolError,
    SymbolInvalid,
    SymbolMappingBroken,
    SymbolNotFound,
    symbol_mapping_delete,
    symbol_mapping_set,
    symbol_resolve,
)
from tests.factories import SymbolMappingFactory, TradingAccountFactory

pytestmark = pytest.mark.django_db

# Symbol lists the way three kinds of broker spell them.
TAGGED = ["EURUSD.m", "GBPUSD.m", "GOLD", "SILVER", "US30.cash", "NAS100.cash", "BTCUSD", "USOIL.cash"]
PLAIN = ["EURUSD", "XAUUSD", "US30", "USTEC"]
EXNESS = ["EURUSDm", "XAUUSDm", "GOLDm"]
LEARNED = SymbolMapping.Source.LEARNED
CUSTOM = SymbolMapping.Source.CUSTOM


def mappings(account) -> dict[str, tuple[str, str]]:
    return {m.requested: (m.broker_symbol, m.source) for m in SymbolMapping.objects.filter(account=account)}


@pytest.fixture
def account():
    return TradingAccountFactory()


# --- (a) custom mappings -------------------------------------------------------------


def test_custom_mapping_wins_over_an_exact_match(account):
    symbol_mapping_set(account=account, requested="XAUUSD", broker_symbol="GOLD")

    assert symbol_resolve(account=account, requested="XAUUSD", available=["XAUUSD", "GOLD"]) == "GOLD"
    assert mappings(account) == {"XAUUSD": ("GOLD", CUSTOM)}


def test_custom_mapping_returns_the_brokers_spelling(account):
    symbol_mapping_set(account=account, requested="eurusd", broker_symbol="eurusdm")

    assert symbol_resolve(account=account, requested="EURUSD", available=EXNESS) == "EURUSDm"


def test_custom_mapping_to_an_unlisted_symbol_is_an_error_not_a_guess(account):
    symbol_mapping_set(account=account, requested="XAUUSD", broker_symbol="GOLD.x")

    with pytest.raises(SymbolMappingBroken) as caught:
        symbol_resolve(account=account, requested="XAUUSD", available=TAGGED)

    assert isinstance(caught.value, SymbolNotFound)
    assert str(caught.value) == (
        "The custom mapping sends XAUUSD to GOLD.x, which this account does not offer; "
        "fix or delete the mapping (similar symbols: GOLD)"
    )
    assert mappings(account) == {"XAUUSD": ("GOLD.x", CUSTOM)}


def test_another_accounts_mapping_is_not_used(account):
    SymbolMappingFactory(requested="XAUUSD", broker_symbol="SILVER")

    assert symbol_resolve(account=account, requested="XAUUSD", available=TAGGED) == "GOLD"


# --- (b) learned mappings ------------------------------------------------------------


def test_automatic_match_is_remembered_and_used_next_time(account):
    first = symbol_resolve(account=account, requested="EURUSD", available=TAGGED)
    mapping = SymbolMapping.objects.get(account=account, requested="EURUSD")

    # The learned answer comes before the exact-name rule the second time.
    second = symbol_resolve(account=account, requested="EURUSD", available=[*TAGGED, "EURUSD"])

    assert first == second == "EURUSD.m"
    assert (mapping.broker_symbol, mapping.source, mapping.owner) == ("EURUSD.m", LEARNED, account.owner)


def test_learned_mapping_whose_symbol_vanished_is_ignored_and_relearned(account):
    symbol_resolve(account=account, requested="EURUSD", available=TAGGED)

    resolved = symbol_resolve(account=account, requested="EURUSD", available=["EURUSD.pro", "GBPUSD.pro"])

    assert resolved == "EURUSD.pro"
    assert mappings(account) == {"EURUSD": ("EURUSD.pro", LEARNED)}


def test_learned_mapping_is_dropped_when_the_plain_name_appears(account):
    symbol_resolve(account=account, requested="EURUSD", available=TAGGED)

    assert symbol_resolve(account=account, requested="EURUSD", available=PLAIN) == "EURUSD"
    assert mappings(account) == {}


def test_failure_leaves_the_learned_mapping_alone(account):
    symbol_resolve(account=account, requested="EURUSD", available=TAGGED)

    with pytest.raises(SymbolNotFound):
        symbol_resolve(account=account, requested="EURUSD", available=[])

    assert mappings(account) == {"EURUSD": ("EURUSD.m", LEARNED)}


# --- (c) exact names -----------------------------------------------------------------


@pytest.mark.parametrize("requested", ["XAUUSD", "xauusd", "  XauUsd\t"])
def test_exact_name_in_any_case_is_used_and_not_stored(account, requested):
    assert symbol_resolve(account=account, requested=requested, available=PLAIN) == "XAUUSD"
    assert mappings(account) == {}


def test_same_spelling_wins_when_a_terminal_lists_a_name_twice_in_different_case(account):
    assert symbol_resolve(account=account, requested="eurusd", available=["eurusd", "EURUSD"]) == "EURUSD"

    with pytest.raises(SymbolAmbiguous):
        symbol_resolve(account=account, requested="EURUSD", available=["eurusd", "EurUsd"])


def test_exact_match_beats_tagged_versions(account):
    assert symbol_resolve(account=account, requested="EURUSD", available=["EURUSD.m", "EURUSD", "EURUSDm"]) == "EURUSD"


# --- (d) broker tags -----------------------------------------------------------------


@pytest.mark.parametrize(
    "tagged",
    ["EURUSD.m", "EURUSDm", "EURUSD.pro", "EURUSD#", "EURUSD_i", "EURUSD.cash", "mEURUSD", ".EURUSD", "EURUSD-ECN"],
)
def test_symbol_with_a_broker_tag_is_found_and_learned(account, tagged):
    available = ["GBPUSD", "USDJPY", tagged, "XAUUSD"]

    assert symbol_resolve(account=account, requested="EURUSD", available=available) == tagged
    assert mappings(account) == {"EURUSD": (tagged, LEARNED)}


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        ("US30", TAGGED, "US30.cash"),
        ("NAS100", TAGGED, "NAS100.cash"),
        ("XAUUSD", EXNESS, "XAUUSDm"),
        ("GOLD", EXNESS, "GOLDm"),
    ],
)
def test_tagged_symbols_on_real_lists(account, requested, available, expected):
    assert symbol_resolve(account=account, requested=requested, available=available) == expected


def test_the_brokers_usual_tag_decides_between_two_tagged_versions(account):
    available = ["EURUSD.m", "EURUSD.pro", "GBPUSD.m", "USDJPY.m", "XAUUSD.m"]

    assert symbol_resolve(account=account, requested="EURUSD", available=available) == "EURUSD.m"


def test_two_tagged_versions_with_no_usual_tag_are_ambiguous(account):
    available = ["EURUSD.m", "EURUSD.pro", "GBPUSD.m", "GBPUSD.pro"]

    with pytest.raises(SymbolAmbiguous) as caught:
        symbol_resolve(account=account, requested="EURUSD", available=available)

    assert str(caught.value) == (
        "EURUSD matches several symbols on this account: EURUSD.m, EURUSD.pro; add a custom mapping"
    )
    assert caught.value.candidates == ["EURUSD.m", "EURUSD.pro"]
    assert mappings(account) == {}


@pytest.mark.parametrize(
    ("requested", "available"),
    [
        ("US30", ["US300", "US3000"]),  # digits make another instrument, not a tag
        ("GOLD", ["GOLDEUR"]),  # three bare letters are a currency, not a tag
        ("CL", ["CLX"]),  # a bare tag on a two-letter name would match anything
    ],
)
def test_a_longer_name_is_not_taken_for_a_tagged_one(account, requested, available):
    with pytest.raises(SymbolNotFound):
        symbol_resolve(account=account, requested=requested, available=available)

    assert mappings(account) == {}


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        ("EURUSD.PRO", ["EURUSDm", "GBPUSDm"], "EURUSDm"),  # a copy master's tagged symbol
        ("XAUUSD.pro", EXNESS, "XAUUSDm"),
        ("#US30", PLAIN, "US30"),
        ("US30.cash", ["US30", "DE40"], "US30"),
    ],
)
def test_a_requested_tagged_symbol_finds_the_same_instrument(account, requested, available, expected):
    assert symbol_resolve(account=account, requested=requested, available=available) == expected


# --- (e) aliases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        ("XAUUSD", TAGGED, "GOLD"),
        ("XAGUSD", TAGGED, "SILVER"),
        ("DJ30", TAGGED, "US30.cash"),
        ("DOW", TAGGED, "US30.cash"),
        ("USTEC", TAGGED, "NAS100.cash"),
        ("WTI", TAGGED, "USOIL.cash"),
        ("XTIUSD", TAGGED, "USOIL.cash"),
        ("BITCOIN", TAGGED, "BTCUSD"),
        ("GOLD", PLAIN, "XAUUSD"),
        ("NAS100", PLAIN, "USTEC"),
        ("US100", PLAIN, "USTEC"),
        ("WS30", PLAIN, "US30"),
        ("NAS100USD", PLAIN, "USTEC"),  # TradingView on an OANDA chart
        ("DE30", ["GER40.cash", "UK100.cash"], "GER40.cash"),
        ("JPN225", ["JP225", "UK100"], "JP225"),
        ("BRENT", ["XBRUSD", "XTIUSD"], "XBRUSD"),
        ("ETHEREUM", ["BTCUSD", "ETHUSD"], "ETHUSD"),
    ],
)
def test_alias_finds_the_brokers_name_and_is_learned(account, requested, available, expected):
    assert symbol_resolve(account=account, requested=requested, available=available) == expected
    assert mappings(account) == {requested: (expected, LEARNED)}


def test_alias_ambiguity_names_every_candidate(account):
    with pytest.raises(SymbolAmbiguous) as caught:
        symbol_resolve(account=account, requested="US30", available=["DJ30", "WS30", "EURUSD"])

    assert str(caught.value) == "US30 matches several symbols on this account: DJ30, WS30; add a custom mapping"


def test_tagged_aliases_with_no_usual_tag_are_ambiguous(account):
    with pytest.raises(SymbolAmbiguous) as caught:
        symbol_resolve(account=account, requested="XAUUSD", available=["GOLD.m", "GOLD.pro", "EURUSD"])

    assert str(caught.value) == (
        "XAUUSD matches several symbols on this account: GOLD.m, GOLD.pro; add a custom mapping"
    )


# --- (f) fuzzy -----------------------------------------------------------------------


def test_clear_fuzzy_match_is_used_and_learned(account):
    available = ["BTCUSD", "ETHUSD", "EURUSD"]

    assert symbol_resolve(account=account, requested="BTCUSDT", available=available) == "BTCUSD"
    assert mappings(account) == {"BTCUSDT": ("BTCUSD", LEARNED)}


def test_separators_do_not_stop_a_match(account):
    assert symbol_resolve(account=account, requested="EUR/USD", available=TAGGED) == "EURUSD.m"


def test_fuzzy_tie_is_ambiguous(account):
    with pytest.raises(SymbolAmbiguous) as caught:
        symbol_resolve(account=account, requested="BTCUSDT", available=["BTCUSD", "BTC-USD", "ETHUSD"])

    assert caught.value.candidates == ["BTC-USD", "BTCUSD"]
    assert mappings(account) == {}


def test_fuzzy_winner_must_lead_clearly(account):
    # BTCUSD scores 92.3 and BTCUSDT24 87.5: one clears 90, but by less than 5 points.
    with pytest.raises(SymbolAmbiguous) as caught:
        symbol_resolve(account=account, requested="BTCUSDT", available=["BTCUSD", "BTCUSDT24", "EURUSD"])

    assert caught.value.candidates == ["BTCUSD", "BTCUSDT24"]


@pytest.mark.parametrize("available", [PLAIN, ["EURUSD", "EURGBP", "XAUUSD"]])
def test_a_prefix_alone_never_wins_a_fuzzy_match(account, available):
    with pytest.raises(SymbolNotFound) as caught:
        symbol_resolve(account=account, requested="EUR", available=available)

    assert "EURUSD" in caught.value.candidates
    assert mappings(account) == {}


# --- failures and messages -----------------------------------------------------------


def test_not_found_names_the_closest_symbols(account):
    with pytest.raises(SymbolNotFound) as caught:
        symbol_resolve(account=account, requested="XAGUSD", available=EXNESS)

    assert str(caught.value) == (
        "XAGUSD is not offered on this account; similar symbols: XAUUSDm; add a custom mapping"
    )
    assert mappings(account) == {}


def test_not_found_without_anything_similar(account):
    with pytest.raises(SymbolNotFound) as caught:
        symbol_resolve(account=account, requested="USDZAR", available=["XAUUSDm", "GOLDm"])

    assert caught.value.candidates == []
    assert str(caught.value) == (
        "USDZAR is not offered on this account and no similar symbol was found; add a custom mapping"
    )


def test_message_lists_at_most_five_candidates(account):
    pairs = ["EURUSD", "EURGBP", "EURJPY", "EURCHF", "EURAUD", "EURCAD", "EURNZD"]

    with pytest.raises(SymbolNotFound) as caught:
        symbol_resolve(account=account, requested="EUR", available=pairs)

    message = str(caught.value)
    assert sorted(caught.value.candidates) == sorted(pairs)
    assert message.startswith("EUR is not offered on this account; similar symbols: ")
    assert message.endswith(" and 2 more; add a custom mapping")
    assert sum(pair in message for pair in pairs) == 5


def test_errors_are_value_errors_and_survive_pickling(account):
    with pytest.raises(SymbolError) as caught:
        symbol_resolve(account=account, requested="US30", available=["DJ30", "WS30"])

    loaded = pickle.loads(pickle.dumps(caught.value))

    assert isinstance(caught.value, ValueError)
    assert type(loaded) is SymbolAmbiguous
    assert str(loaded) == str(caught.value)
    assert (loaded.requested, loaded.candidates) == ("US30", ["DJ30", "WS30"])


# --- ugly input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "words"),
    [
        ("", "is empty"),
        ("   \t ", "is empty"),
        ("A" * 10_240, "is 10240 characters long; it can have at most 40"),
        ("X" * 41, "is 41 characters long"),
        ("ß" * 21, "is 42 characters long"),  # upper-cases to 42 characters
        ("EUR\nUSD", "contains control characters"),
        ("EURUSD\x00", "contains control characters"),
        ("\u202eDSURUE", "contains control characters"),  # right-to-left override
        ("EUR\u200bUSD", "contains control characters"),  # zero-width space
        (None, "must be text, not NoneType"),
        (123, "must be text, not int"),
    ],
)
def test_unusable_symbol_is_refused_clearly_and_changes_nothing(account, requested, words):
    with pytest.raises(SymbolInvalid) as caught:
        symbol_resolve(account=account, requested=requested, available=PLAIN)

    message = str(caught.value)
    assert words in message
    assert len(message) < 120
    assert message.isprintable()
    assert mappings(account) == {}


def test_forty_characters_is_still_a_symbol(account):
    name = "A" * 40

    assert symbol_resolve(account=account, requested=name.lower(), available=[name]) == name


def test_junk_in_the_terminals_list_is_skipped(account):
    assert symbol_resolve(account=account, requested="XAUUSD", available=["", None, "XAUUSD"]) == "XAUUSD"


# --- managing custom mappings --------------------------------------------------------


def test_mapping_set_normalises_requested_and_keeps_the_brokers_case(account):
    mapping = symbol_mapping_set(account=account, requested="  xauusd ", broker_symbol=" GOLDm\r\n")

    assert (mapping.requested, mapping.broker_symbol, mapping.source) == ("XAUUSD", "GOLDm", CUSTOM)
    assert mapping.owner == account.owner and mapping.account == account


def test_mapping_set_replaces_a_learned_mapping(account):
    symbol_resolve(account=account, requested="XAUUSD", available=EXNESS)

    symbol_mapping_set(account=account, requested="XAUUSD", broker_symbol="GOLDm")

    assert mappings(account) == {"XAUUSD": ("GOLDm", CUSTOM)}
    assert symbol_resolve(account=account, requested="XAUUSD", available=EXNESS) == "GOLDm"


def test_learning_never_overwrites_a_custom_mapping(account):
    symbol_mapping_set(account=account, requested="EURUSD", broker_symbol="EURUSD.m")

    with pytest.raises(SymbolMappingBroken):
        symbol_resolve(account=account, requested="EURUSD", available=PLAIN)

    assert mappings(account) == {"EURUSD": ("EURUSD.m", CUSTOM)}


@pytest.mark.parametrize(
    ("requested", "broker_symbol", "words"),
    [
        ("XAUUSD", "", "The broker symbol is empty"),
        ("XAUUSD", "G" * 41, "The broker symbol"),
        ("", "GOLD", "The symbol is empty"),
        ("XAU\x07USD", "GOLD", "contains control characters"),
    ],
)
def test_mapping_set_validates_both_names(account, requested, broker_symbol, words):
    with pytest.raises(SymbolInvalid) as caught:
        symbol_mapping_set(account=account, requested=requested, broker_symbol=broker_symbol)

    assert words in str(caught.value)
    assert mappings(account) == {}


def test_mapping_delete_reports_whether_there_was_one(account):
    symbol_mapping_set(account=account, requested="XAUUSD", broker_symbol="GOLD")
    other = SymbolMappingFactory(requested="XAUUSD", broker_symbol="GOLD")

    assert symbol_mapping_delete(account=account, requested="xauusd") is True
    assert symbol_mapping_delete(account=account, requested="XAUUSD") is False
    assert mappings(account) == {}
    assert SymbolMapping.objects.filter(pk=other.pk).exists()


def test_mapping_delete_forgets_a_learned_mapping_too(account):
    symbol_resolve(account=account, requested="EURUSD", available=TAGGED)

    assert symbol_mapping_delete(account=account, requested="EURUSD") is True
    assert mappings(account) == {}


def test_mapping_delete_refuses_unusable_input(account):
    with pytest.raises(SymbolInvalid):
        symbol_mapping_delete(account=account, requested="X" * 500)
