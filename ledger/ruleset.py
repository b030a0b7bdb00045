"""Rule sets: which handler validates and applies each statement type, given explicitly.

A layer (the community's own types here in ``ledger.community``, and each layer above)
exposes its rules as one value, a :class:`Rules`: its handlers by statement type, the
validators of its policy keys, and the body fields that carry commitments whose openings
travel privately. A :class:`RuleSet` joins the layers' values into the one set a state is
replayed under (:class:`ledger.state.State` holds it). Nothing is registered at import
time, and this layer never loads another: whoever starts a node or an audit builds the
rule set from its list of layers and hands it over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.errors import InputError

if TYPE_CHECKING:
    from ledger.state import Context, State
    from ledger.statements import Envelope

__all__ = ["CommittedField", "Handler", "PolicyValidator", "RuleSet", "Rules"]

Handler = Callable[["State", "Envelope", "Context"], None]
# Raises InputError for a policy value its layer cannot use, so a bad policy is refused when
# it is set (genesis, ``policy.set``), not later when a statement first reads it.
PolicyValidator = Callable[[dict[str, Any]], object]


@dataclass(frozen=True)
class CommittedField:
    """A body field of ``type`` holding a commitment whose opening may travel privately.

    The node checks the opening against ``commitment`` and keeps it off the log, filed
    under the value of the body field ``subject`` (erasable on request).
    """

    type: str
    commitment: str
    subject: str


@dataclass(frozen=True)
class Rules:
    """One layer's rules: its statement types' handlers and its hooks."""

    layer: str
    handlers: tuple[tuple[str, Handler], ...]
    policy_validators: tuple[PolicyValidator, ...] = ()
    committed_fields: tuple[CommittedField, ...] = ()

    @classmethod
    def of(
        cls,
        layer: str,
        handlers: Mapping[str, Handler],
        policy_validators: Iterable[PolicyValidator] = (),
        committed_fields: Iterable[CommittedField] = (),
    ) -> Rules:
        """A layer's rules from a mapping ``statement type -> handler``."""
        return cls(
            layer, tuple(handlers.items()), tuple(policy_validators), tuple(committed_fields)
        )

    def types(self) -> list[str]:
        """The statement types this layer handles, in its own order."""
        return [t for t, _ in self.handlers]


@dataclass(frozen=True)
class RuleSet:
    """Every layer's rules joined: exactly one handler per statement type."""

    layers: tuple[Rules, ...]
    _handlers: dict[str, Handler] = field(init=False, repr=False, compare=False, hash=False)
    _committed: dict[str, CommittedField] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        handlers: dict[str, Handler] = {}
        owner: dict[str, str] = {}
        committed: dict[str, CommittedField] = {}
        for rules in self.layers:
            for type_name, fn in rules.handlers:
                if type_name in handlers:
                    raise ValueError(
                        f"statement type {type_name!r} has a handler in both "
                        f"{owner[type_name]} and {rules.layer}"
                    )
                handlers[type_name] = fn
                owner[type_name] = rules.layer
            for cf in rules.committed_fields:
                if cf.type not in handlers:
                    raise ValueError(
                        f"{rules.layer}: committed field of {cf.type!r}, a type it does not handle"
                    )
                committed[cf.type] = cf
        object.__setattr__(self, "_handlers", handlers)
        object.__setattr__(self, "_committed", committed)

    def handler_for(self, type_name: str) -> Handler:
        """The handler of ``type_name``; InputError (unknown type) if none is in the set."""
        try:
            return self._handlers[type_name]
        except KeyError:
            raise InputError(
                f"unknown statement type {type_name!r}; known types: {', '.join(self.types())}"
            ) from None

    def types(self) -> list[str]:
        """Every statement type with a handler, sorted."""
        return sorted(self._handlers)

    @property
    def policy_validators(self) -> tuple[PolicyValidator, ...]:
        """Every layer's policy validators, in layer order."""
        return tuple(v for rules in self.layers for v in rules.policy_validators)

    def committed_field(self, type_name: str) -> CommittedField | None:
        """Where statements of ``type_name`` carry a commitment (None: they carry none)."""
        return self._committed.get(type_name)
