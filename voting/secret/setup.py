"""Opening a secret ballot: credentials for the electorate, the election, and a ceremony run
in one place (for tests, the demo and benchmarks; real trustees run their own steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import InputError
from voting.secret.credentials import Credential, generate_credential, generate_token
from voting.secret.election import Election, Question, make_election
from voting.secret.group import FiniteFieldGroup
from voting.secret.trustees import (
    ThresholdParameters,
    Voutput,
    election_public_key,
    generate_seed,
    make_cert,
    make_polynomial,
    make_threshold_parameters,
    make_vinputs,
    make_voutput,
    trustee_decryption_key,
    trustees_to_json,
)

__all__ = [
    "LocalCeremony",
    "make_credentials",
    "new_uuid",
    "open_election",
    "run_local_ceremony",
]


def new_uuid() -> str:
    """A fresh election uuid: 14 Base58 characters, as ``belenios-tool setup generate-token``."""
    return generate_token(14)


def make_credentials(group: FiniteFieldGroup, uuid: str, count: int) -> list[Credential]:
    """``count`` fresh credentials, all distinct (spec §3.1 step 3)."""
    out: list[Credential] = []
    seen: set[int] = set()
    while len(out) < count:
        cred = generate_credential(group, uuid)
        if cred.public not in seen:
            seen.add(cred.public)
            out.append(cred)
    return out


@dataclass(frozen=True)
class LocalCeremony:
    """The outcome of the threshold ceremony: the public parameters and each trustee's
    secrets (``seeds[j]`` and ``voutputs[j].private_key`` stay with trustee ``j + 1``)."""

    seeds: tuple[str, ...]
    parameters: ThresholdParameters
    voutputs: tuple[Voutput, ...]

    def trustees_json(self) -> str:
        return trustees_to_json([self.parameters])

    def decryption_key(self, group: FiniteFieldGroup, j: int) -> int:
        """Trustee ``j`` (0-based)'s share ``S_j`` of the election key."""
        return trustee_decryption_key(
            group, self.seeds[j], self.parameters.certs, self.voutputs[j].private_key
        )


def run_local_ceremony(group: FiniteFieldGroup, n: int, threshold: int) -> LocalCeremony:
    """All six steps of §3.1.1 "Pedersen" for ``n`` trustees, any ``threshold`` of whom decrypt."""
    if not 1 <= threshold <= n:
        raise InputError(f"threshold must be between 1 and {n}")
    seeds = tuple(generate_seed() for _ in range(n))
    certs = [make_cert(group, s) for s in seeds]
    polynomials = [make_polynomial(group, s, certs, threshold) for s in seeds]
    vinputs = make_vinputs(group, certs, polynomials)
    voutputs = tuple(make_voutput(group, s, certs, v) for s, v in zip(seeds, vinputs, strict=True))
    params = make_threshold_parameters(group, certs, polynomials, voutputs, threshold)
    return LocalCeremony(seeds, params, voutputs)


def open_election(
    group: FiniteFieldGroup,
    uuid: str,
    name: str,
    description: str,
    questions: Sequence[Question],
    parameters: ThresholdParameters,
) -> Election:
    """The election whose key is the ceremony's (spec §3.1 step 10)."""
    return make_election(
        uuid=uuid,
        name=name,
        description=description,
        group=group,
        public_key=election_public_key(group, [parameters]),
        questions=questions,
    )
