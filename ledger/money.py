"""Money as text: integer minor units of an ISO 4217 currency shown in major units.

Pure, and below ``voting`` and ``funds`` so that both speak of amounts the same way
(``1,200.00 EUR``, never ``120000 minor units``).
"""

from __future__ import annotations

__all__ = ["format_money", "minor_exponent"]

# ISO 4217 minor units, where they are not 2 (for the CLI's decimal input and display).
_EXPONENTS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0,
    "TND": 3, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (ISO 4217; 2 unless listed)."""
    return _EXPONENTS.get(currency, 2)


def format_money(minor: int, currency: str) -> str:
    """Integer minor units as decimal text with the currency's decimals: ``450.00``."""
    exp = minor_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    return f"{sign}{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
