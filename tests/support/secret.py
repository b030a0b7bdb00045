"""One secret election built with voting.secret, shared by the tests of this process.

2048-bit work is slow, so the election (ceremony, credentials, ballots, tally, partial
decryptions, result) is built once per test process and reused; tests that tamper with it
build modified copies of its plain values.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from voting.secret.archive import PublicData, credentials_json, write_archive
from voting.secret.ballot import build_ballot, parse_ballot
from voting.secret.credentials import Credential
from voting.secret.election import Election, Question, question_for_kind
from voting.secret.encoding import loads
from voting.secret.group import BELENIOS_2048, FiniteFieldGroup
from voting.secret.setup import (
    LocalCeremony,
    make_credentials,
    new_uuid,
    open_election,
    run_local_ceremony,
)
from voting.secret.tally import (
    EncryptedTally,
    combine_result,
    encrypted_tally,
    make_partial_decryption,
    parse_partial_decryption,
)

GROUP: FiniteFieldGroup = BELENIOS_2048

QUESTIONS = (
    question_for_kind("yes_no", "Repaint the hall?", ["yes", "no"]),
    question_for_kind("single", "Which day for the fair?", ["Saturday", "Sunday", "Monday"]),
    question_for_kind("approval", "Which trees to plant?", ["oak", "lime", "cherry"]),
    Question(question="Pick one or two stalls", answers=("books", "food", "games"), min=1, max=2),
)

# Per voter, the votes cast in order (voter 0 votes again: only the last one counts);
# voter 4 never votes. Blank-capable questions lead with the blank flag.
VOTES: tuple[tuple[list[list[int]], ...], ...] = (
    (
        [[0, 1, 0], [0, 1, 0, 0], [1, 1, 0], [0, 1, 1]],
        [[0, 0, 1], [0, 0, 0, 1], [0, 0, 0], [1, 0, 0]],
    ),
    ([[1, 0, 0], [1, 0, 0, 0], [1, 1, 1], [1, 1, 0]],),
    ([[0, 1, 0], [0, 0, 1, 0], [0, 1, 0], [0, 0, 1]],),
    ([[0, 0, 1], [0, 1, 0, 0], [1, 0, 1], [0, 1, 0]],),
    (),
)


def expected_result() -> tuple[tuple[int, ...], ...]:
    """The pointwise sum of each voter's last vote: what every tally must give."""
    last = [votes[-1] for votes in VOTES if votes]
    return tuple(
        tuple(sum(v[qi][j] for v in last) for j in range(q.width)) for qi, q in enumerate(QUESTIONS)
    )


@dataclass(frozen=True)
class SecretElection:
    ceremony: LocalCeremony
    election: Election
    credentials: tuple[Credential, ...]
    ballots: tuple[str, ...]
    tally: EncryptedTally
    partial_decryptions: tuple[tuple[int, str], ...]  # trustees 1 and 3 of 3 (threshold 2)
    result: tuple[tuple[int, ...], ...]

    def public_data(self, **changes: object) -> PublicData:
        """The full public data (setup … result); keyword arguments replace fields."""
        data = PublicData(
            election=self.election,
            trustees=self.ceremony.trustees_json(),
            credentials=tuple(
                loads(credentials_json(sorted(c.public for c in self.credentials)), "creds")
            ),
            ballots=self.ballots,
            ballots_ended=True,
            tally=self.tally,
            partial_decryptions=self.partial_decryptions,
            result=self.result,
            timestamp=1796000000,
        )
        return replace(data, **changes)  # type: ignore[arg-type]


@functools.cache
def secret_election() -> SecretElection:
    ceremony = run_local_ceremony(GROUP, 3, 2)
    uuid = new_uuid()
    election = open_election(
        GROUP, uuid, "Neighbourhood vote", "Secret ballot test", QUESTIONS, ceremony.parameters
    )
    credentials = tuple(make_credentials(GROUP, uuid, len(VOTES)))
    # Cast order: everyone's first vote, then the revotes.
    ballots: list[str] = []
    for round_ in range(2):
        for cred, votes in zip(credentials, VOTES, strict=True):
            if round_ < len(votes):
                ballots.append(build_ballot(election, cred.private, votes[round_]))
    tally = encrypted_tally(election, [parse_ballot(b) for b in ballots])
    pds = tuple(
        (
            j + 1,
            make_partial_decryption(election, tally, ceremony.decryption_key(GROUP, j)).to_json(),
        )
        for j in (0, 2)
    )
    result = combine_result(
        election,
        [ceremony.parameters],
        tally,
        {owner: parse_partial_decryption(text) for owner, text in pds},
    )
    return SecretElection(ceremony, election, credentials, tuple(ballots), tally, pds, result)


def belenios_tool() -> str:
    path = shutil.which("belenios-tool")
    assert path is not None, "belenios-tool is missing: run `make test-deps`"
    return path


def run_belenios(
    *args: str, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real belenios-tool; never mocked."""
    return subprocess.run(
        [belenios_tool(), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def export(data: PublicData, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_archive(data, directory)
    return directory
