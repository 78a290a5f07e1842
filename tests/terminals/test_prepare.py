import dataclasses
import math
from decimal import Decimal

import pytest

from terminals.drivers.base import Filling, SymbolFillingFlag, SymbolInfo
from terminals.orders.prepare import (
    PreparationError,
    filling_choose,
    pips_to_price_distance,
    price_round,
    risk_volume,
    stops_check,
    volume_normalize,
)

# Specifications as a USD account's terminal reports them.
EURUSD = SymbolInfo(
    name="EURUSD",
    description="Euro vs US Dollar",
    digits=5,
    point=0.00001,
    trade_tick_size=0.00001,
    trade_tick_value=1.0,  # 100 000 EUR * 0.00001 = 1 USD per tick per lot
    trade_contract_size=100_000,
    volume_min=0.01,
    volume_step=0.01,
    volume_max=100.0,
    filling_mode=SymbolFillingFlag.FOK | SymbolFillingFlag.IOC,
    trade_stops_level=10,
)
XAUUSD = SymbolInfo(
    name="XAUUSD",
    description="Gold vs US Dollar",
    digits=2,
    point=0.01,
    trade_tick_size=0.01,
    trade_tick_value=1.0,  # 100 oz * 0.01 = 1 USD per tick per lot
    trade_contract_size=100,
    volume_min=0.01,
    volume_step=0.01,
    volume_max=50.0,
    filling_mode=SymbolFillingFlag.IOC,
    trade_stops_level=20,
)
USDJPY = SymbolInfo(
    name="USDJPY",
    description="US Dollar vs Japanese Yen",
    digits=3,
    point=0.001,
    trade_tick_size=0.001,
    trade_tick_value=0.66,  # 100 000 * 0.001 = 100 JPY per tick per lot, about 0.66 USD
    trade_contract_size=100_000,
    volume_min=0.01,
    volume_step=0.01,
    volume_max=100.0,
    filling_mode=SymbolFillingFlag.FOK,
    trade_stops_level=0,
)
NAS100 = SymbolInfo(
    name="NAS100",
    description="US Tech 100 Index",
    digits=2,
    point=0.01,
    trade_tick_size=0.25,  # quoted in cents, traded in quarter points
    trade_tick_value=0.25,
    trade_contract_size=1,
    volume_min=0.1,
    volume_step=0.1,
    volume_max=500.0,
    filling_mode=0,
    trade_stops_level=0,
)


def spec(info: SymbolInfo, **changes) -> SymbolInfo:
    return dataclasses.replace(info, **changes)


# --- volume_normalize ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "info", "expected"),
    [
        (0.07, EURUSD, "0.07"),  # 0.07 / 0.01 is 7.000000000000001 in floats
        (0.29, EURUSD, "0.29"),  # 0.29 / 0.01 is 28.999999999999996 in floats
        (0.7 * 0.1, EURUSD, "0.07"),  # 0.06999999999999999: float noise, not a smaller volume
        (1.2345, spec(EURUSD, volume_step=0.1, volume_min=0.1), "1.2"),
        (0.015, EURUSD, "0.01"),  # down, never half-up
        (0.019999, EURUSD, "0.01"),
        (Decimal("2.5"), NAS100, "2.5"),
        (3, EURUSD, "3"),
        (0.01, EURUSD, "0.01"),
    ],
)
def test_volume_rounds_down_to_the_step_exactly(volume, info, expected):
    result = volume_normalize(volume, info)

    assert isinstance(result, Decimal)
    assert result == Decimal(expected)


def test_volume_keeps_the_steps_decimal_places():
    assert str(volume_normalize(0.07, EURUSD)) == "0.07"
    assert str(volume_normalize(1.2345, spec(EURUSD, volume_step=0.1, volume_min=0.1))) == "1.2"


@pytest.mark.parametrize("volume", [150, 100.004, 1e300, Decimal("1E+30")])
def test_volume_is_clamped_to_the_maximum(volume):
    assert volume_normalize(volume, EURUSD) == Decimal("100")


def test_volume_below_the_minimum_is_refused_with_the_numbers():
    with pytest.raises(PreparationError) as caught:
        volume_normalize(0.004, EURUSD)

    assert caught.value.reason == "0.004 lots is below EURUSD's minimum of 0.01"
    assert str(caught.value) == caught.value.reason


def test_volume_that_rounds_below_the_minimum_is_refused():
    odd = spec(EURUSD, volume_min=0.15, volume_step=0.1)

    with pytest.raises(PreparationError) as caught:
        volume_normalize(0.18, odd)

    assert caught.value.reason == "0.18 lots rounds down to 0.1 at EURUSD's step of 0.1, below its minimum of 0.15"


@pytest.mark.parametrize(
    ("volume", "words"),
    [
        (0, "more than 0 lots, not 0"),
        (-1, "more than 0 lots, not -1"),
        (math.nan, "finite number"),
        (math.inf, "finite number"),
        (Decimal("NaN"), "finite number"),
        ("0.1", "must be a number, not str"),
        (None, "must be a number, not NoneType"),
        (True, "must be a number, not bool"),
    ],
)
def test_volume_that_is_not_a_positive_number_is_refused(volume, words):
    with pytest.raises(PreparationError) as caught:
        volume_normalize(volume, EURUSD)

    assert words in caught.value.reason


def test_symbol_without_a_volume_step_is_refused_not_divided_by_zero():
    with pytest.raises(PreparationError) as caught:
        volume_normalize(0.1, spec(EURUSD, volume_step=0.0))

    assert "EURUSD reports no usable volume limits" in caught.value.reason


# --- filling_choose ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (0, Filling.RETURN),
        (SymbolFillingFlag.FOK, Filling.FOK),
        (SymbolFillingFlag.IOC, Filling.IOC),
        (SymbolFillingFlag.FOK | SymbolFillingFlag.IOC, Filling.FOK),
    ],
)
def test_filling_is_the_first_the_symbol_allows_of_fok_ioc_return(flags, expected):
    assert filling_choose(spec(XAUUSD, filling_mode=flags)) == expected


@pytest.mark.parametrize("flags", [0, SymbolFillingFlag.IOC, SymbolFillingFlag.FOK | SymbolFillingFlag.IOC])
def test_request_and_instant_execution_always_fill_or_kill(flags):
    assert filling_choose(spec(XAUUSD, filling_mode=flags), execution_market=False) == Filling.FOK


# --- price_round ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "info", "expected"),
    [
        (2399.555, XAUUSD, 2399.56),  # half up, though the float is 2399.55499…
        (2399.554, XAUUSD, 2399.55),
        (2400, XAUUSD, 2400.0),
        (151.2345, USDJPY, 151.235),
        (151.23449, USDJPY, 151.234),
        (1.085125, EURUSD, 1.08513),
        (1.0851249, EURUSD, 1.08512),
        (Decimal("1.08500"), EURUSD, 1.085),
        (18000.13, NAS100, 18000.25),  # tick size 0.25 is coarser than the point
        (18000.12, NAS100, 18000.0),
        (18000.37, NAS100, 18000.25),
        (18000.38, NAS100, 18000.5),
    ],
)
def test_price_is_rounded_to_the_symbols_grid(price, info, expected):
    assert price_round(price, info) == expected


def test_rounded_price_has_no_float_tail():
    assert repr(price_round(1.1 + 2.2, spec(EURUSD, digits=2, point=0.01, trade_tick_size=0.01))) == "3.3"


def test_unusable_price_is_refused():
    with pytest.raises(PreparationError) as caught:
        price_round(math.inf, XAUUSD)

    assert "finite" in caught.value.reason


# --- pips_to_price_distance ----------------------------------------------------------


@pytest.mark.parametrize(
    ("pips", "info", "expected"),
    [
        (20, EURUSD, 0.002),  # 5 digits: a pip is 10 points of 0.00001
        (2.5, EURUSD, 0.00025),
        (15, USDJPY, 0.15),  # 3 digits: 10 points of 0.001
        (15, spec(USDJPY, digits=2, point=0.01), 0.15),  # an old 2-digit JPY quote: 1 point
        (50, XAUUSD, 0.5),  # 2 digits: 1 point of 0.01
        (20, spec(EURUSD, digits=4, point=0.0001), 0.002),  # 4 digits: 1 point
        (0, EURUSD, 0.0),
    ],
)
def test_pips_become_a_price_distance(pips, info, expected):
    assert pips_to_price_distance(pips, info) == expected


@pytest.mark.parametrize("pips", [-5, math.nan, "20"])
def test_pips_must_be_a_non_negative_number(pips):
    with pytest.raises(PreparationError):
        pips_to_price_distance(pips, EURUSD)


# --- stops_check ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "sl", "tp", "reason"),
    [
        ("buy", 2400.00, None, "Stop loss 2400.00 is above the buy price 2399.50"),
        ("buy", 2399.50, None, "Stop loss 2399.50 is at the buy price 2399.50"),
        ("buy", None, 2390.00, "Take profit 2390.00 is below the buy price 2399.50"),
        ("sell", 2390.00, None, "Stop loss 2390.00 is below the sell price 2399.50"),
        ("sell", None, 2410.00, "Take profit 2410.00 is above the sell price 2399.50"),
        ("sell", 2410.00, 2399.50, "Take profit 2399.50 is at the sell price 2399.50"),
    ],
)
def test_stop_on_the_wrong_side_is_refused_by_name(side, sl, tp, reason):
    with pytest.raises(PreparationError) as caught:
        stops_check(side=side, price=2399.50, sl=sl, tp=tp, info=XAUUSD)

    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("side", "sl", "tp", "reason"),
    [
        (
            "buy",
            2399.40,
            None,
            "Stop loss 2399.40 is 10 points from the buy price 2399.50; XAUUSD needs at least 20 points (0.20)",
        ),
        (
            "sell",
            None,
            2399.31,
            "Take profit 2399.31 is 19 points from the sell price 2399.50; XAUUSD needs at least 20 points (0.20)",
        ),
    ],
)
def test_stop_inside_the_stop_level_is_refused(side, sl, tp, reason):
    with pytest.raises(PreparationError) as caught:
        stops_check(side=side, price=2399.50, sl=sl, tp=tp, info=XAUUSD)

    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("side", "sl", "tp"),
    [
        ("buy", 2399.30, 2399.70),  # exactly 20 points each way; 2399.50 - 2399.30 is 0.1999… in floats
        ("sell", 2399.70, 2399.30),
        ("buy", 2350.0, 2450.0),
        ("buy", None, None),
        ("sell", 0, 0),  # MT5's "no stop"
    ],
)
def test_stops_far_enough_on_the_right_side_pass(side, sl, tp):
    assert stops_check(side=side, price=2399.50, sl=sl, tp=tp, info=XAUUSD) is None


def test_stop_level_zero_allows_any_distance_on_the_right_side():
    assert stops_check(side="buy", price=151.234, sl=151.233, tp=151.235, info=USDJPY) is None


def test_stops_on_a_five_digit_symbol_use_its_points():
    with pytest.raises(PreparationError) as caught:
        stops_check(side="buy", price=1.08500, sl=1.08495, tp=None, info=EURUSD)

    assert caught.value.reason == (
        "Stop loss 1.08495 is 5 points from the buy price 1.08500; EURUSD needs at least 10 points (0.00010)"
    )


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"side": "long"}, "buy or sell, not 'long'"),
        ({"price": math.nan}, "price must be a finite number"),
        ({"sl": math.inf}, "stop loss must be a finite number"),
    ],
)
def test_stops_check_refuses_unusable_input(kwargs, words):
    arguments = {"side": "buy", "price": 2399.50, "sl": 2390.0, "tp": 2410.0, "info": XAUUSD, **kwargs}

    with pytest.raises(PreparationError) as caught:
        stops_check(**arguments)

    assert words in caught.value.reason


# --- risk_volume ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "risk", "entry", "stop_loss", "info", "expected"),
    [
        # 1% of 10 000 = 100 USD; 10.00 away = 1000 ticks * 1 USD = 1000 USD a lot → 0.10
        (10_000, 1, 2400.00, 2390.00, XAUUSD, "0.10"),
        # 2% of 2 500 = 50 USD; 14.50 away = 1450 USD a lot → 0.0344… → 0.03
        (Decimal("2500.00"), 2, 2400.00, 2385.50, XAUUSD, "0.03"),
        # 2% of 5 000 = 100 USD; 25 pips = 250 ticks * 1 USD = 250 USD a lot → 0.40
        (5_000, 2, 1.08500, 1.08250, EURUSD, "0.40"),
        # A sell, stop above: 1% of 10 000 = 100 USD over 300 USD a lot → 0.333… → 0.33
        (10_000, 1, 1.08500, 1.08800, EURUSD, "0.33"),
        # 1% of 10 000 = 100 USD; 0.500 away = 500 ticks * 0.66 = 330 USD a lot → 0.303… → 0.30
        (10_000, 1, 151.000, 150.500, USDJPY, "0.30"),
        # 0.5% of 20 000 = 100 USD; 40 points = 160 ticks * 0.25 = 40 USD a lot → 2.5
        (20_000, 0.5, 18000.00, 17960.00, NAS100, "2.5"),
    ],
)
def test_risk_sizing_loses_the_risked_money_at_the_stop(balance, risk, entry, stop_loss, info, expected):
    assert risk_volume(balance=balance, risk_percent=risk, entry=entry, stop_loss=stop_loss, info=info) == Decimal(
        expected
    )


def test_risk_sizing_is_clamped_to_the_maximum():
    lots = risk_volume(balance=10_000_000, risk_percent=10, entry=2400.0, stop_loss=2399.0, info=XAUUSD)

    assert lots == Decimal("50")


def test_risk_too_small_for_the_minimum_is_refused_with_the_numbers():
    with pytest.raises(PreparationError) as caught:
        risk_volume(balance=100, risk_percent=1, entry=2400.00, stop_loss=2390.00, info=XAUUSD)

    # 1 USD over 1000 USD a lot = 0.001 lots
    assert caught.value.reason == (
        "Risking 1% of 100 with the stop loss 10.00 away allows 0.001 lots, below XAUUSD's minimum of 0.01"
    )


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"stop_loss": 2400.0}, "needs a stop loss away from the entry price"),
        ({"risk_percent": 0}, "more than 0 and at most 100 percent, not 0"),
        ({"risk_percent": 150}, "not 150"),
        ({"balance": 0}, "needs a positive balance"),
        ({"balance": Decimal("-50.00")}, "needs a positive balance"),
        ({"info": spec(XAUUSD, trade_tick_value=0.0)}, "XAUUSD reports no tick value"),
        ({"entry": math.nan}, "entry price must be a finite number"),
    ],
)
def test_risk_sizing_refuses_what_it_cannot_size(kwargs, words):
    arguments = {"balance": 10_000, "risk_percent": 1, "entry": 2400.0, "stop_loss": 2390.0, "info": XAUUSD, **kwargs}

    with pytest.raises(PreparationError) as caught:
        risk_volume(**arguments)

    assert words in caught.value.reason
