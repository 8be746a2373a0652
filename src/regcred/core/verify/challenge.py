"""WWW-Authenticate challenges (RFC 9110 §11.6.1) as registries send them: Basic and Bearer.

A registry answers `GET /v2/` with `401` and a challenge naming the scheme and, for Bearer, the token
endpoint (`realm`), `service` and sometimes `scope`. Values may be quoted, quotes may hide commas, and
one header may carry several challenges; anything else is refused with a message naming what is wrong,
because a client that guesses may send credentials somewhere it should not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN68_CHARS = frozenset("-._~+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WHITESPACE = " \t"
MAX_HEADER_CHARS = 8192

# Schemes a client can use, best first: Bearer scopes a token to one repository.
PREFERRED_SCHEMES = ("bearer", "basic")


class ChallengeError(ValueError):
    """A WWW-Authenticate header that cannot be parsed; the message says where."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge: the scheme (lower case) and its parameters (names lower case)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


class _Reader:
    """A cursor over the header text with the few primitives the grammar needs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.peek() and self.peek() in _WHITESPACE:
            self.pos += 1

    def skip_commas(self) -> int:
        """Skip empty list elements (`, ,`); return how many commas were seen."""
        commas = 0
        while True:
            self.skip_space()
            if self.peek() != ",":
                return commas
            commas += 1
            self.pos += 1

    def read_while(self, allowed: frozenset[str]) -> str:
        start = self.pos
        while self.peek() and self.peek() in allowed:
            self.pos += 1
        return self.text[start : self.pos]

    def read_quoted(self) -> str:
        """A quoted-string with backslash escapes; the opening quote is at the cursor."""
        self.pos += 1
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise ChallengeError(f"unterminated quoted value starting at character {self.pos}")
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                escaped = self.peek()
                if not escaped:
                    raise ChallengeError("a backslash ends the header inside a quoted value")
                self.pos += 1
                out.append(escaped)
            else:
                out.append(char)

    def error(self, what: str) -> ChallengeError:
        shown = self.text[self.pos : self.pos + 20]
        return ChallengeError(f"{what} at character {self.pos + 1} (near {shown!r})")


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a WWW-Authenticate value, in order; ChallengeError when malformed."""
    if len(header) > MAX_HEADER_CHARS:
        raise ChallengeError(f"header longer than {MAX_HEADER_CHARS} characters")
    reader = _Reader(header)
    challenges: list[Challenge] = []
    reader.skip_commas()
    if reader.at_end():
        raise ChallengeError("empty header")
    while not reader.at_end():
        challenges.append(_read_challenge(reader))
        if reader.skip_commas() == 0 and not reader.at_end():
            raise reader.error("expected ',' between challenges")
    return challenges


def _read_challenge(reader: _Reader) -> Challenge:
    scheme = reader.read_while(_TOKEN_CHARS)
    if not scheme:
        raise reader.error("expected an auth scheme")
    if not reader.at_end() and reader.peek() not in _WHITESPACE + ",":
        raise reader.error(f"unexpected character after scheme {scheme!r}")
    reader.skip_space()
    params: dict[str, str] = {}
    token68 = _try_token68(reader)
    if token68 is not None:
        return Challenge(scheme.lower(), params, token68)
    while True:
        mark = reader.pos
        name = reader.read_while(_TOKEN_CHARS)
        reader.skip_space()
        if not name or reader.peek() != "=":
            reader.pos = mark  # not a parameter: the next challenge's scheme (or the end)
            break
        reader.pos += 1
        reader.skip_space()
        if reader.peek() == '"':
            value = reader.read_quoted()
        else:
            value = reader.read_while(_TOKEN_CHARS)
            if not value:
                raise reader.error(f"parameter {name!r} has no value")
        key = name.lower()
        if key in params:
            raise ChallengeError(f"parameter {key!r} is given twice")
        params[key] = value
        reader.skip_space()
        mark = reader.pos
        if reader.skip_commas() == 0:
            if not reader.at_end():
                raise reader.error("expected ',' after a parameter")
            break
        if reader.at_end():
            break
        # A comma may separate parameters or challenges: look ahead for `name=`.
        probe = reader.pos
        reader.read_while(_TOKEN_CHARS)
        reader.skip_space()
        is_param = reader.peek() == "=" and reader.text[reader.pos : reader.pos + 2] != "=="
        reader.pos = probe if is_param else mark
        if not is_param:
            break
    return Challenge(scheme.lower(), params)


def _try_token68(reader: _Reader) -> str | None:
    """`Scheme token68` (e.g. `Basic dXNlcg==`): a run of token68 chars, optional '=' padding, then end/','."""
    mark = reader.pos
    value = reader.read_while(_TOKEN68_CHARS)
    if value:
        while reader.peek() == "=":
            reader.pos += 1
        value = reader.text[mark : reader.pos]
        reader.skip_space()
        if (reader.at_end() or reader.peek() == ",") and "=" not in value.rstrip("="):
            return value
    reader.pos = mark
    return None


def select_challenge(challenges: Sequence[Challenge]) -> Challenge | None:
    """The challenge a registry client answers: Bearer if offered, else Basic; None if neither."""
    for scheme in PREFERRED_SCHEMES:
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def bearer_parameters(challenge: Challenge) -> tuple[str, str | None, str | None]:
    """(realm, service, scope) of a Bearer challenge; ChallengeError without an http(s) realm."""
    realm = challenge.params.get("realm", "")
    if not realm:
        raise ChallengeError("Bearer challenge without a realm (the token endpoint)")
    if not realm.startswith(("https://", "http://")):
        raise ChallengeError(f"Bearer realm {realm!r} is not an http(s) URL")
    return realm, challenge.params.get("service"), challenge.params.get("scope")
