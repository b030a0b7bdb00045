"""Secret ballots in Belenios 2.0's format: homomorphic ElGamal over BELENIOS-2048, threshold
trustees, and public data that the unmodified ``belenios-tool`` verifies. Pure: plain values
and frozen dataclasses in, values out; the only I/O is :func:`write_archive`.

- :mod:`~voting.secret.group`: the group (a parameter: an elliptic curve can follow);
- :mod:`~voting.secret.encoding`: Belenios' JSON conventions and hashes;
- :mod:`~voting.secret.credentials`: voter credentials (§4.8);
- :mod:`~voting.secret.election`: questions and the election structure (§4.9, §4.10);
- :mod:`~voting.secret.elgamal`, :mod:`~voting.secret.proofs`: encryption and every proof;
- :mod:`~voting.secret.ballot`: building a ballot (voter side) and checking one (§4.11–4.15);
- :mod:`~voting.secret.trustees`: the threshold key ceremony (§4.6) and trustee structures;
- :mod:`~voting.secret.tally`: encrypted tally, partial decryptions, result (§4.16–4.19);
- :mod:`~voting.secret.archive`: the ``UUID.bel`` public-data archive (§4.4);
- :mod:`~voting.secret.verify`: universal verification with an inspectable report;
- :mod:`~voting.secret.setup`: credentials for an electorate and a ceremony run locally.
"""

from __future__ import annotations

from voting.secret.archive import PublicData, archive_bytes, read_archive, write_archive
from voting.secret.ballot import (
    BallotVerdict,
    ballot_tracker,
    build_ballot,
    check_ballot,
    parse_ballot,
    require_valid_ballot,
)
from voting.secret.credentials import Credential, generate_credential, public_credential
from voting.secret.election import (
    Election,
    Question,
    make_election,
    parse_election,
    question_for_kind,
    result_counts,
    vote_vector,
)
from voting.secret.group import BELENIOS_2048, FiniteFieldGroup, Group, group_by_name
from voting.secret.setup import make_credentials, new_uuid, open_election, run_local_ceremony
from voting.secret.tally import (
    EncryptedTally,
    PartialDecryption,
    check_partial_decryption,
    combine_result,
    encrypted_tally,
    make_partial_decryption,
    trustee_public_keys,
)
from voting.secret.trustees import (
    ThresholdParameters,
    check_cert,
    generate_seed,
    make_cert,
    make_polynomial,
    make_threshold_parameters,
    make_vinputs,
    make_voutput,
    parse_trustees,
    trustee_decryption_key,
    trustees_to_json,
)
from voting.secret.verify import (
    Check,
    ElectionReport,
    check_ballots,
    require_valid_public_data,
    verify_public_data,
)

__all__ = [
    "BELENIOS_2048",
    "BallotVerdict",
    "Check",
    "Credential",
    "Election",
    "ElectionReport",
    "EncryptedTally",
    "FiniteFieldGroup",
    "Group",
    "PartialDecryption",
    "PublicData",
    "Question",
    "ThresholdParameters",
    "archive_bytes",
    "ballot_tracker",
    "build_ballot",
    "check_ballot",
    "check_ballots",
    "check_cert",
    "check_partial_decryption",
    "combine_result",
    "encrypted_tally",
    "generate_credential",
    "generate_seed",
    "group_by_name",
    "make_cert",
    "make_credentials",
    "make_election",
    "make_partial_decryption",
    "make_polynomial",
    "make_threshold_parameters",
    "make_vinputs",
    "make_voutput",
    "new_uuid",
    "open_election",
    "parse_ballot",
    "parse_election",
    "parse_trustees",
    "public_credential",
    "question_for_kind",
    "read_archive",
    "require_valid_ballot",
    "require_valid_public_data",
    "result_counts",
    "run_local_ceremony",
    "trustee_decryption_key",
    "trustee_public_keys",
    "trustees_to_json",
    "verify_public_data",
    "vote_vector",
    "write_archive",
]
