"""Secret ballots in Belenios 2.0's format (homomorphic ElGamal, threshold trustees). Pure."""

from __future__ import annotations

__all__: list[str] = []
