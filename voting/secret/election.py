"""The election structure of Belenios 2.0 (spec §4.9 homomorphic questions, §4.10 elections).

An :class:`Election` keeps the exact text it was serialised to (``raw``): the spec requires
the same string throughout the election, and its hash ``φ`` (the *fingerprint*, spec §4.15)
enters every ballot and every decryption proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import InputError
from voting.secret.credentials import BASE58
from voting.secret.encoding import (
    b64_hash,
    dumps,
    get_int_field,
    get_list,
    get_num,
    get_obj,
    get_str,
    loads,
)
from voting.secret.group import FiniteFieldGroup, group_by_name

__all__ = [
    "Election",
    "Question",
    "make_election",
    "parse_election",
    "question_for_kind",
    "result_counts",
    "vote_vector",
]

ELECTION_VERSION = 1  # spec §4.10: "set to 1 in this version of the specification"


@dataclass(frozen=True)
class Question:
    """A homomorphic question (``question_h``, spec §4.9.1): pick between min and max answers.

    With ``blank`` the voter may also vote blank (all answers 0), whatever ``min`` is.
    """

    question: str
    answers: tuple[str, ...]
    min: int
    max: int
    blank: bool = False

    def __post_init__(self) -> None:
        if not self.answers:
            raise InputError(f"question {self.question!r} has no answers")
        if not 0 <= self.min <= self.max <= len(self.answers):
            raise InputError(
                f"question {self.question!r}: need 0 ≤ min ≤ max ≤ {len(self.answers)} "
                f"(got min {self.min}, max {self.max})"
            )

    @property
    def width(self) -> int:
        """Number of ciphertexts in an answer: one per answer, plus one leading if blank."""
        return len(self.answers) + (1 if self.blank else 0)

    def to_json(self) -> dict[str, Any]:
        # Field order of belenios-tool's serialiser: answers, blank?, min, max, question.
        out: dict[str, Any] = {"answers": list(self.answers)}
        if self.blank:
            out["blank"] = True
        out["min"] = self.min
        out["max"] = self.max
        out["question"] = self.question
        return out


def question_for_kind(kind: str, text: str, options: Sequence[str]) -> Question:
    """The Belenios question for a civic-ledger ballot kind in ``secret`` mode.

    ``yes_no`` and ``single``: exactly one option, or blank (an abstention); ``approval``: any
    number of options, none included. ``budget`` ballots weigh costs, which a homomorphic
    0/1 question cannot express, so they stay open: :class:`InputError`.
    """
    opts = tuple(options)
    if kind == "yes_no":
        return Question(question=text, answers=opts or ("yes", "no"), min=1, max=1, blank=True)
    if kind == "single":
        return Question(question=text, answers=opts, min=1, max=1, blank=True)
    if kind == "approval":
        return Question(question=text, answers=opts, min=0, max=len(opts))
    if kind == "budget":
        raise InputError(
            "budget ballots cannot be secret: a homomorphic Belenios question only counts "
            "0/1 choices, not costs against a budget"
        )
    raise InputError(f"unknown ballot kind {kind!r} for a secret ballot")


def vote_vector(question: Question, selected: Sequence[str] | None) -> list[int]:
    """The 0/1 vector a voter's client encrypts for ``question`` (spec §4.11.1).

    ``selected`` names the chosen answers; ``None`` is a blank vote (an abstention), only on
    a question that allows it. Bounds are checked again by :func:`build_ballot`.
    """
    if selected is None:
        if not question.blank:
            raise InputError(f"question {question.question!r} does not allow a blank vote")
        return [1] + [0] * len(question.answers)
    unknown = [s for s in selected if s not in question.answers]
    if unknown or len(set(selected)) != len(selected):
        raise InputError(f"choose distinct answers among {list(question.answers)}")
    bits = [1 if a in selected else 0 for a in question.answers]
    return ([0] if question.blank else []) + bits


def result_counts(question: Question, row: Sequence[int]) -> dict[str, int]:
    """A decrypted result row (spec §4.19) as counts per answer, plus ``"blank"`` if allowed."""
    if len(row) != question.width:
        raise InputError(f"expected {question.width} counts, got {len(row)}")
    counts = list(row[1:]) if question.blank else list(row)
    out = dict(zip(question.answers, counts, strict=True))
    if question.blank:
        out["blank"] = row[0]
    return out


@dataclass(frozen=True)
class Election:
    """A parsed ``election`` (spec §4.10) with the exact text it came from."""

    raw: str
    uuid: str
    name: str
    description: str
    group: FiniteFieldGroup
    public_key: int
    questions: tuple[Question, ...]
    administrator: str | None = None
    credential_authority: str | None = None

    @property
    def fingerprint(self) -> str:
        """``φ = H_JSON(election)`` (spec §4.15), the ballots' ``election_hash``."""
        return b64_hash(self.raw)


def _to_json(
    uuid: str,
    name: str,
    description: str,
    group: FiniteFieldGroup,
    public_key: int,
    questions: Sequence[Question],
    administrator: str | None,
    credential_authority: str | None,
) -> str:
    out: dict[str, Any] = {
        "version": ELECTION_VERSION,
        "description": description,
        "name": name,
        "group": group.name,
        "public_key": str(public_key),
        "questions": [q.to_json() for q in questions],
        "uuid": uuid,
    }
    if administrator is not None:
        out["administrator"] = administrator
    if credential_authority is not None:
        out["credential_authority"] = credential_authority
    return dumps(out)


def _check_uuid(uuid: str) -> None:
    if len(uuid) < 14 or any(ch not in BASE58 for ch in uuid):
        raise InputError("an election uuid is at least 14 Base58 characters (spec §4.2)")


def make_election(
    *,
    uuid: str,
    name: str,
    description: str,
    group: FiniteFieldGroup,
    public_key: int,
    questions: Sequence[Question],
    administrator: str | None = None,
    credential_authority: str | None = None,
) -> Election:
    """Build and serialise an election, once; keep its ``raw`` text from then on."""
    _check_uuid(uuid)
    if not questions:
        raise InputError("an election needs at least one question")
    if not group.is_element(public_key):
        raise InputError("the election public key is not an element of the group")
    raw = _to_json(
        uuid, name, description, group, public_key, questions, administrator, credential_authority
    )
    return Election(
        raw=raw,
        uuid=uuid,
        name=name,
        description=description,
        group=group,
        public_key=public_key,
        questions=tuple(questions),
        administrator=administrator,
        credential_authority=credential_authority,
    )


def _question_from_json(value: Any, what: str) -> Question:
    obj = get_obj(value, what)
    if "type" in obj or "value" in obj:
        raise InputError(f"{what}: only homomorphic questions are supported (spec §4.9.1)")
    answers = get_list(obj.get("answers"), f"{what}.answers")
    if not all(isinstance(a, str) for a in answers):
        raise InputError(f"{what}.answers must be strings")
    blank = obj.get("blank", False)
    if not isinstance(blank, bool):
        raise InputError(f"{what}.blank must be a boolean")
    return Question(
        question=get_str(obj, "question", what),
        answers=tuple(answers),
        min=get_int_field(obj, "min", what),
        max=get_int_field(obj, "max", what),
        blank=blank,
    )


def parse_election(raw: str) -> Election:
    """Parse an election's text; the result keeps ``raw`` verbatim for ``φ``."""
    obj = get_obj(loads(raw, "the election"), "the election")
    if obj.get("version") != ELECTION_VERSION:
        raise InputError(f"unsupported election version {obj.get('version')!r}")
    group = group_by_name(get_str(obj, "group", "election"))
    questions = tuple(
        _question_from_json(q, f"election.questions[{i}]")
        for i, q in enumerate(get_list(obj.get("questions"), "election.questions"))
    )
    admin = obj.get("administrator")
    authority = obj.get("credential_authority")
    public_key = get_num(obj.get("public_key"), "election.public_key")
    if not group.is_element(public_key):
        raise InputError("the election public key is not an element of the group")
    uuid = get_str(obj, "uuid", "election")
    _check_uuid(uuid)
    return Election(
        raw=raw,
        uuid=uuid,
        name=get_str(obj, "name", "election"),
        description=get_str(obj, "description", "election"),
        group=group,
        public_key=public_key,
        questions=questions,
        administrator=admin if isinstance(admin, str) else None,
        credential_authority=authority if isinstance(authority, str) else None,
    )
