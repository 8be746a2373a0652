"""The building blocks of the RegistryCredential definition (`schema`): typed nodes and rules between fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Str:
    description: str
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    default: str | None = None


@dataclass(frozen=True)
class Bool:
    description: str
    default: bool | None = None


@dataclass(frozen=True)
class Arr:
    description: str
    items: Node
    min_items: int | None = None
    default: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class StrMap:
    """An object of free-form string keys to string values (matchLabels)."""

    description: str


@dataclass(frozen=True)
class Obj:
    description: str
    fields: dict[str, Node]
    required: tuple[str, ...] = ()
    # Exactly one of these alternatives must be present (each alternative: the keys it requires); an
    # alternative is present when one of its own keys (those no other alternative has) is given.
    one_of: tuple[tuple[str, ...], ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    open: bool = False  # other keys are allowed and not checked (metadata, status)


@dataclass(frozen=True)
class Rule:
    """A rule between an object's fields that types cannot say, in the three places that enforce it.

    `check` is the CLI's (it sees a structurally valid object), `json` the JSON Schema an editor applies,
    `cel` the apiserver's x-kubernetes-validations rule; a test checks all three agree on sample documents.
    """

    path: str  # where the message points, relative to the object ("values"), or ""
    message: str
    check: Callable[[Mapping[str, Any]], bool]
    json: dict[str, Any]
    cel: str


Node = Str | Bool | Arr | StrMap | Obj
