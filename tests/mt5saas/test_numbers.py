"""mt5saas.numbers.decimal_parse: the one bounded-decimal parser, in the two shapes its callers use.

WEBHOOK: above 0, at most 20 digits written out, plain text only (webhooks.payload).
COPY: 0 or more, rounded to 4 places, any text Decimal() reads (copytrading's event numbers).
"""

from decimal import Decimal

import pytest

from mt5saas.numbers import NumberError, NumberProblem, decimal_parse

WEBHOOK = {"maximum": Decimal(1000), "positive": True, "max_digits": 20}
COPY = {"maximum": Decimal(10**6), "places": Decimal("0.0001"), "plain_text": False}


def _problem(value: object, shape: dict) -> NumberProblem:
    with pytest.raises(NumberError) as refused:
        decimal_parse(value, **shape)
    return refused.value.problem


@pytest.mark.parametrize(
    ("value", "webhook", "copy"),
    [
        ("0.10", "0.10", "0.1000"),
        (" 2.5 ", "2.5", "2.5000"),
        (0.1, "0.1", "0.1000"),
        (0.1 + 0.2, "0.30000000000000004", "0.3000"),
        (7, "7", "7.0000"),
        (Decimal("0.25"), "0.25", "0.2500"),
        ("+.5", "0.5", "0.5000"),
        ("5.", "5", "5.0000"),
        ("1E+2", "100", "100.0000"),  # fixed-point form, not an exponent
        ("1e-2", "0.01", "0.0100"),
        ("1000", "1000", "1000.0000"),  # the maximum itself is accepted
        ("0.00015", "0.00015", "0.0002"),  # rounded half to even at places
        ("0.00025", "0.00025", "0.0002"),
    ],
)
def test_accepted_numbers_in_both_shapes(value, webhook, copy):
    assert str(decimal_parse(value, **WEBHOOK)) == webhook
    assert str(decimal_parse(value, **COPY)) == copy


@pytest.mark.parametrize("value", [True, False, None, [], [1], {}, object()])
def test_a_value_that_is_neither_number_nor_text_is_the_wrong_type(value):
    assert _problem(value, WEBHOOK) == _problem(value, COPY) == NumberProblem.WRONG_TYPE


@pytest.mark.parametrize("text", ["", " ", "abc", "0,10", "0x10", "1..2", "e5", "{{close}}", "1 000"])
def test_text_that_reads_as_no_number(text):
    assert _problem(text, WEBHOOK) == _problem(text, COPY) == NumberProblem.NOT_NUMERIC


@pytest.mark.parametrize(("text", "copy"), [("1_000", "1000.0000"), ("\u0661", "1.0000"), ("1 ", "1.0000")])
def test_only_the_copy_shape_reads_what_decimal_reads(text, copy):
    assert str(decimal_parse(text, **COPY)) == copy
    if text.strip() != "1":
        assert _problem(text, WEBHOOK) == NumberProblem.NOT_NUMERIC  # underscores, an Arabic-Indic 1


@pytest.mark.parametrize("value", [float("nan"), float("-inf"), Decimal("NaN"), "NaN", "-Infinity", "+inf"])
def test_nan_and_infinities_are_not_finite(value):
    assert _problem(value, WEBHOOK) == _problem(value, COPY) == NumberProblem.NOT_FINITE


@pytest.mark.parametrize(
    ("text", "webhook", "copy"),
    [
        ("snan", NumberProblem.NOT_NUMERIC, NumberProblem.NOT_FINITE),
        ("+-inf", NumberProblem.NOT_FINITE, NumberProblem.NOT_NUMERIC),
    ],
)
def test_spellings_of_nan_plain_text_and_decimal_disagree_on(text, webhook, copy):
    assert _problem(text, WEBHOOK) == webhook
    assert _problem(text, COPY) == copy


@pytest.mark.parametrize(
    "value",
    [
        "1e400",
        "0e1000",  # an exponent of 4 digits is refused before it is read, whatever the digits
        "1e999999999999999999999",
        1e300,
        10**20,
        -(10**25),
        "9" * 5000,
        "0.000000000000000000001",  # 21 digits after the point
        "1.00000000000000000001",
    ],
)
def test_more_than_max_digits_written_out(value):
    assert _problem(value, WEBHOOK) == NumberProblem.TOO_MANY_DIGITS


@pytest.mark.parametrize("value", ["99999999999999999999", "0.00000000000000000001", 10**20 - 1, "1e19"])
def test_exactly_max_digits_is_not_too_many(value):
    assert decimal_parse(value, **{**WEBHOOK, "maximum": Decimal(10**20)}) == Decimal(value)


def test_the_digit_bound_comes_before_the_sign():
    assert _problem("-1e30", WEBHOOK) == NumberProblem.TOO_MANY_DIGITS
    assert _problem("-1e30", COPY) == NumberProblem.BELOW_MINIMUM


@pytest.mark.parametrize(("value", "number"), [("0", "0"), ("-0", "-0"), ("-1.5", "-1.5"), (0.0, "0.0"), ("0e5", "0")])
def test_zero_and_below_are_below_the_minimum_of_a_positive_number(value, number):
    with pytest.raises(NumberError) as refused:
        decimal_parse(value, **WEBHOOK)
    assert refused.value.problem == NumberProblem.BELOW_MINIMUM
    assert str(refused.value.number) == number  # the fixed-point form a message may quote


def test_zero_is_accepted_where_the_minimum_is_zero():
    assert decimal_parse("0", **COPY) == 0
    assert str(decimal_parse("-0", **COPY)) == "-0.0000"  # not below 0: a caller reading `or None` drops it
    assert _problem("-0.0001", COPY) == NumberProblem.BELOW_MINIMUM


@pytest.mark.parametrize("value", ["0.00005", "1e-5", "1e-999999999", 0.00001])
def test_a_non_zero_number_finer_than_places_is_refused_not_rounded_to_zero(value):
    assert _problem(value, COPY) == NumberProblem.FINER_THAN_PLACES


@pytest.mark.parametrize(("value", "number"), [("1000.0001", "1000.0001"), (1001, "1001"), ("1.1e3", "1100")])
def test_above_the_maximum(value, number):
    with pytest.raises(NumberError) as refused:
        decimal_parse(value, **WEBHOOK)
    assert refused.value.problem == NumberProblem.ABOVE_MAXIMUM
    assert str(refused.value.number) == number


@pytest.mark.parametrize("value", ["1e999999999", "1000000.0001", 10**7, "0e50"])
def test_above_the_maximum_by_order_of_magnitude_without_arithmetic(value):
    # "0e50" is zero written with an exponent past the maximum's: its order of magnitude refuses it.
    assert _problem(value, COPY) == NumberProblem.ABOVE_MAXIMUM


def test_an_exponent_decimal_cannot_hold_reads_as_no_number_without_a_digit_bound():
    assert _problem("1e99999999999999999999", COPY) == NumberProblem.NOT_NUMERIC


def test_the_error_names_its_problem():
    error = NumberError(NumberProblem.ABOVE_MAXIMUM, Decimal("2"))
    assert isinstance(error, ValueError)
    assert str(error) == "above_maximum" and error.number == Decimal("2")
