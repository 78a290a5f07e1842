"""A bounded decimal from a request body: a JSON number or the numeric text a sender wrote.

Bounds come before any arithmetic: "1e999999999" overflows Decimal's context, and "1e-999999999"
formats as a billion characters. The refusal carries a reason, not a sentence: each surface
(the webhook payload, the copy-trading event) words it as its documentation promises.
"""

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

# A number as people and JSON write it: sign, digits with at most one point, an exponent.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?", re.ASCII)
_NON_FINITE_WORDS = frozenset({"nan", "inf", "infinity"})
# Past 3 exponent digits a number has more digits than any bound here, and Decimal() fails past ~18.
_MAX_EXPONENT_DIGITS = 3


class NumberProblem(StrEnum):
    WRONG_TYPE = "wrong_type"  # neither a number nor text (a bool, a list, an object)
    NOT_NUMERIC = "not_numeric"  # text that does not read as a number
    NOT_FINITE = "not_finite"  # NaN or an infinity
    TOO_MANY_DIGITS = "too_many_digits"  # more than max_digits written out
    BELOW_MINIMUM = "below_minimum"  # negative, or 0 where it must be positive
    FINER_THAN_PLACES = "finer_than_places"  # not 0, yet smaller than one step of places
    ABOVE_MAXIMUM = "above_maximum"


class NumberError(ValueError):
    """Why a value is not an accepted number; `number` is the value read, for the bound problems."""

    def __init__(self, problem: NumberProblem, number: Decimal | None = None) -> None:
        super().__init__(problem.value)
        self.problem, self.number = problem, number


def decimal_parse(
    value: object,
    *,
    maximum: Decimal,
    positive: bool = False,
    places: Decimal | None = None,
    max_digits: int | None = None,
    plain_text: bool = True,
) -> Decimal:
    """A finite Decimal from 0 (or above 0 when `positive`) to `maximum`, from an int, a float, a
    Decimal or text; NumberError otherwise, its problems checked in NumberProblem's order.

    `plain_text` reads text written as a plain number only ("1.5", "+.5", "2e-3"); without it, any
    text Decimal() reads ("1_000", "NaN", other scripts' digits). `max_digits` bounds the digits
    written out without an exponent, and the result is that fixed-point form (1E+2 is 100).
    `places` refuses a non-zero number smaller than one step and rounds the result to it.
    """
    number = _read(value, plain_text=plain_text, max_digits=max_digits)
    if not number.is_finite():
        raise NumberError(NumberProblem.NOT_FINITE)
    if max_digits is not None:
        if _written_digits(number) > max_digits:
            raise NumberError(NumberProblem.TOO_MANY_DIGITS)
        number = Decimal(format(number, "f"))
    if number < 0 or (positive and number == 0):
        raise NumberError(NumberProblem.BELOW_MINIMUM, number)
    if places is not None and number and number.adjusted() < places.adjusted():
        raise NumberError(NumberProblem.FINER_THAN_PLACES, number)
    # Orders of magnitude first: no arithmetic on a number of a million digits.
    if number.adjusted() > maximum.adjusted() or number > maximum:
        raise NumberError(NumberProblem.ABOVE_MAXIMUM, number)
    return number.quantize(places) if places is not None else number


def _read(value: object, *, plain_text: bool, max_digits: int | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise NumberError(NumberProblem.WRONG_TYPE)
    if isinstance(value, str):
        return _read_text(value.strip(), plain_text=plain_text, max_digits=max_digits)
    if isinstance(value, int):
        if max_digits is not None and abs(value) >= 10**max_digits:
            raise NumberError(NumberProblem.TOO_MANY_DIGITS)
        return Decimal(value)
    # repr() is the shortest text that reads back as the same float: 0.1 stays 0.1.
    return Decimal(repr(value)) if isinstance(value, float) else value


def _read_text(text: str, *, plain_text: bool, max_digits: int | None) -> Decimal:
    if plain_text:
        if not (match := _PLAIN_NUMBER.fullmatch(text)):
            if text.lower().lstrip("+-") in _NON_FINITE_WORDS:
                raise NumberError(NumberProblem.NOT_FINITE)
            raise NumberError(NumberProblem.NOT_NUMERIC)
        exponent = match.group(1)
        if max_digits is not None and exponent and len(exponent.lstrip("+-")) > _MAX_EXPONENT_DIGITS:
            raise NumberError(NumberProblem.TOO_MANY_DIGITS)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise NumberError(NumberProblem.NOT_NUMERIC) from None


def _written_digits(number: Decimal) -> int:
    """Digits before the point plus digits after it, as the number is written without an exponent."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite, so not "n", "N" or "F"
    written = "".join(map(str, digits))
    significant = written.rstrip("0")
    exponent += len(written) - len(significant)
    significant = significant.lstrip("0")
    if not significant:
        return 0
    return max(len(significant) + exponent, 0) + max(-exponent, 0)
