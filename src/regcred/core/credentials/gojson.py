"""JSON the way Go's encoding/json reads and writes it, where that differs from Python's json.

- Reading: Go matches struct field names case-insensitively (an exact-case key is found first),
  the last duplicate wins, and NaN/Infinity are not JSON.
- Writing: Go's compact output escapes '<', '>', '&', U+2028 and U+2029 and keeps other
  non-ASCII characters as UTF-8; kubectl's Secret payload is exactly this.
"""

from __future__ import annotations

import json
from typing import Any

from regcred.core.safeload import MAX_DEPTH, json_too_deep

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_ESCAPE_TABLE = str.maketrans(_GO_ESCAPES)


# Non-ASCII runes whose Go fold (unicode.ToUpper(unicode.ToLower(r))) is an ASCII letter: the Kelvin
# sign, the long s and the dotted capital I. No other rune folds onto ASCII, so no other rune can match
# an ASCII field name.
_GO_FOLD_TO_ASCII = str.maketrans({"\u212a": "k", "\u017f": "s", "\u0130": "i"})


def fold_field_name(name: str) -> str:
    """A JSON key folded as Go's encoding/json matches it against struct field names, in lower case.

    Compare the result with a lower-case ASCII field name: `Auths`, `AUTHS` and `auth\u017f` all give
    `auths`. Python's `str.lower` differs (it keeps the long s, and turns the dotted I into two runes).
    """
    if name.isascii():  # the common case, 3x faster: str.lower changes only A-Z in ASCII text
        return name.lower()
    return name.translate(_GO_FOLD_TO_ASCII).translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character in JSON: {name} is not a JSON value")


def loads_pairs(text: str) -> Any:
    """Parse JSON keeping objects as ordered lists of (key, value) pairs, so duplicates stay visible.

    Objects come back as `Pairs` (a list subclass), which lets callers apply Go's rules.
    """
    if json_too_deep(text):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels (regcred's limit)")
    return json.loads(text, object_pairs_hook=Pairs, parse_constant=_reject_constant)


class Pairs(list[tuple[str, Any]]):
    """A JSON object as the ordered (key, value) pairs it was written with."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (last duplicate wins), converting nested objects too."""
        return {k: _plain(v) for k, v in self}


def _plain(value: Any) -> Any:
    if isinstance(value, Pairs):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def go_compact_dumps(value: Any) -> str:
    """Compact JSON with Go's HTML-safe escaping; key order is the dict's order."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.translate(_GO_ESCAPE_TABLE)


def go_type_name(value: Any) -> str:
    """The JSON type of a value, named as Go's decoder names it in errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list) and not isinstance(value, Pairs):
        return "array"
    return "object"
