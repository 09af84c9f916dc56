"""Money amounts: v1 decimal text <-> v2 JSON numbers, exactly (decision OP1).

v1 wrote amounts as decimal text with two decimals (`<value>500.00</value>`); v2 keeps
`value.amount` as a JSON number. JSON numbers travel as IEEE doubles (orjson on both sides),
which keep any decimal of at most 15 significant digits exactly: text -> double -> shortest
repr gives the same digits back. So:

* v1 -> v2: a whole amount is sent as an integer, any other as the double of its text. An
  amount with more than 15 significant digits cannot be kept exactly and is a 400, never
  rounded; a negative amount is a 400 (Capsule refuses it).
* v2 -> v1: the exact decimal of the number, in the canonical v1 form: no exponent, no leading
  zeros, at least two decimals (`1234.5` -> `1234.50`, `1000` -> `1000.00`), further decimals
  only when they are not zero (`0.125` stays `0.125`).

Every canonical v1 amount of at most 15 significant digits goes v1 -> v2 -> v1 unchanged
(tested with hypothesis in tests/translate/test_translate_money.py).
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

from .errors import InvalidField, UpstreamDataError

#: Significant digits a double keeps exactly, whatever the decimal (DBL_DIG).
EXACT_DIGITS = 15
_CENTS = Decimal("0.01")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
# Wide enough for any double (up to ~1.8e308) written to the cent.
_WIDE = Context(prec=400)


def amount_to_v2(text: str, field: str = "value") -> int | float:
    """v1 decimal text (`-?digits[.digits]`, as the XSD says) -> the JSON number to send."""
    if _DECIMAL.fullmatch(text.strip()) is None:
        raise InvalidField(field, f"{field} must be a decimal number such as 1234.50, got {text!r}")
    amount = Decimal(text.strip())
    if amount < 0:
        raise InvalidField(field, f"{field} cannot be negative, got {text.strip()!r}")
    if amount == amount.to_integral_value():
        whole = int(amount)
        if len(str(whole)) > EXACT_DIGITS:
            raise InvalidField(field, f"{field} {text.strip()!r} has more than {EXACT_DIGITS} digits, which "
                                      "Capsule cannot keep exactly")
        return whole
    digits = amount.normalize().as_tuple().digits
    if len(digits) > EXACT_DIGITS:
        raise InvalidField(field, f"{field} {text.strip()!r} has more than {EXACT_DIGITS} significant digits, "
                                  "which Capsule cannot keep exactly; round it")
    return float(amount)


def amount_to_v1(amount: object, key: str = "value.amount") -> str:
    """A v2 amount (int, float, or numeric text) -> canonical v1 decimal text."""
    if type(amount) is int:
        exact = Decimal(amount)
    elif type(amount) is float and amount == amount and abs(amount) != float("inf"):
        exact = Decimal(repr(amount))      # the shortest text that reads back as the same double
    elif isinstance(amount, str):
        try:
            exact = Decimal(amount.strip())
        except InvalidOperation:
            raise UpstreamDataError(f"v2 {key} should be a number, got {amount!r:.40}") from None
        if not exact.is_finite():
            raise UpstreamDataError(f"v2 {key} should be a number, got {amount!r:.40}")
    else:
        raise UpstreamDataError(f"v2 {key} should be a number, got {amount!r:.40}")
    return canonical(exact)


def canonical(amount: Decimal) -> str:
    """The one v1 spelling of an amount: plain digits, at least two decimals, no trailing zeros
    beyond them."""
    if amount == 0:
        return "0.00"
    amount = amount.normalize()
    if amount.as_tuple().exponent > -2:      # type: ignore[operator]  # finite: an int exponent
        amount = amount.quantize(_CENTS, context=_WIDE)
    return format(amount, "f")
