"""Go's encoding/json and encoding/base64 error texts, reproduced byte for byte.

Why: the apiserver echoes these errors verbatim ("invalid character 'h' in literal true
(expecting 'r')", "illegal base64 data at input byte 0"); Python's own messages differ.
"""

from __future__ import annotations

import json
from typing import Any

_SPACE = b" \t\r\n"
_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"
_OBJ_KEY, _OBJ_VALUE, _ARR_VALUE = 0, 1, 2


def quote_char(c: int) -> str:
    """encoding/json quoteChar: how a byte is shown inside 'invalid character ...'."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    ch = chr(c)
    if ch == "\n":
        s = "\\n"
    elif ch == "\t":
        s = "\\t"
    elif ch == "\r":
        s = "\\r"
    elif c < 0x20 or c == 0x7F:
        s = f"\\x{c:02x}"
    elif 0x80 <= c < 0xA0 or c == 0xAD:
        s = f"\\u{c:04x}"
    else:
        s = ch
    return "'" + s + "'"


class _Scanner:
    """A port of the state machine in encoding/json/scanner.go (errors only)."""

    def __init__(self) -> None:
        self.stack: list[int] = []
        self.step = self.begin_value
        self.end_top = False
        self.err: str | None = None

    def fail(self, c: int, context: str) -> None:
        self.err = f"invalid character {quote_char(c)} {context}"

    def begin_value_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("]"):
            self.end_value(c)
            return
        self.begin_value(c)

    def begin_value(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("{"):
            self.stack.append(_OBJ_KEY)
            self.step = self.begin_string_or_empty
        elif c == ord("["):
            self.stack.append(_ARR_VALUE)
            self.step = self.begin_value_or_empty
        elif c == ord('"'):
            self.step = self.in_string
        elif c == ord("-"):
            self.step = self.neg
        elif c == ord("0"):
            self.step = self.zero
        elif ord("1") <= c <= ord("9"):
            self.step = self.one
        elif c == ord("t"):
            self.step = self._lit("rue", "true", 0)
        elif c == ord("f"):
            self.step = self._lit("alse", "false", 0)
        elif c == ord("n"):
            self.step = self._lit("ull", "null", 0)
        else:
            self.fail(c, "looking for beginning of value")

    def _lit(self, rest: str, word: str, i: int):  # type: ignore[no-untyped-def]
        def step(c: int) -> None:
            if c == ord(rest[i]):
                self.step = self.end_value if i + 1 == len(rest) else self._lit(rest, word, i + 1)
            else:
                self.fail(c, f"in literal {word} (expecting {quote_char(ord(rest[i]))})")

        return step

    def begin_string_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("}"):
            self.stack[-1] = _OBJ_VALUE
            self.end_value(c)
            return
        self.begin_string(c)

    def begin_string(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord('"'):
            self.step = self.in_string
        else:
            self.fail(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> None:
        if not self.stack:
            self.step = self.end_top_step
            self.end_top = True
            self.end_top_step(c)
            return
        if c in _SPACE:
            self.step = self.end_value
            return
        ps = self.stack[-1]
        if ps == _OBJ_KEY:
            if c == ord(":"):
                self.stack[-1] = _OBJ_VALUE
                self.step = self.begin_value
            else:
                self.fail(c, "after object key")
        elif ps == _OBJ_VALUE:
            if c == ord(","):
                self.stack[-1] = _OBJ_KEY
                self.step = self.begin_string
            elif c == ord("}"):
                self.pop()
            else:
                self.fail(c, "after object key:value pair")
        else:
            if c == ord(","):
                self.step = self.begin_value
            elif c == ord("]"):
                self.pop()
            else:
                self.fail(c, "after array element")

    def pop(self) -> None:
        self.stack.pop()
        if not self.stack:
            self.step = self.end_top_step
            self.end_top = True
        else:
            self.step = self.end_value

    def end_top_step(self, c: int) -> None:
        if c not in _SPACE:
            self.fail(c, "after top-level value")

    def in_string(self, c: int) -> None:
        if c == ord('"'):
            self.step = self.end_value
        elif c == ord("\\"):
            self.step = self.in_string_esc
        elif c < 0x20:
            self.fail(c, "in string literal")

    def in_string_esc(self, c: int) -> None:
        if c in b'bfnrt\\/"':
            self.step = self.in_string
        elif c == ord("u"):
            self.step = self._esc_u(0)
        else:
            self.fail(c, "in string escape code")

    def _esc_u(self, i: int):  # type: ignore[no-untyped-def]
        def step(c: int) -> None:
            if c in _HEX:
                self.step = self.in_string if i == 3 else self._esc_u(i + 1)
            else:
                self.fail(c, "in \\u hexadecimal character escape")

        return step

    def neg(self, c: int) -> None:
        if c == ord("0"):
            self.step = self.zero
        elif ord("1") <= c <= ord("9"):
            self.step = self.one
        else:
            self.fail(c, "in numeric literal")

    def one(self, c: int) -> None:
        if c in _DIGITS:
            return
        self.zero(c)

    def zero(self, c: int) -> None:
        if c == ord("."):
            self.step = self.dot
        elif c in b"eE":
            self.step = self.exp
        else:
            self.end_value(c)

    def dot(self, c: int) -> None:
        if c in _DIGITS:
            self.step = self.dot0
        else:
            self.fail(c, "after decimal point in numeric literal")

    def dot0(self, c: int) -> None:
        if c in _DIGITS:
            return
        if c in b"eE":
            self.step = self.exp
        else:
            self.end_value(c)

    def exp(self, c: int) -> None:
        if c in b"+-":
            self.step = self.exp_sign
            return
        self.exp_sign(c)

    def exp_sign(self, c: int) -> None:
        if c in _DIGITS:
            self.step = self.exp0
        else:
            self.fail(c, "in exponent of numeric literal")

    def exp0(self, c: int) -> None:
        if c in _DIGITS:
            return
        self.end_value(c)


def syntax_error(data: bytes) -> str | None:
    """The message json.Unmarshal would give for malformed input, or None when it is valid."""
    s = _Scanner()
    for c in data:
        s.step(c)
        if s.err:
            return s.err
    if s.end_top:
        return None
    s.step(ord(" "))
    if s.err:
        return s.err
    if s.end_top:
        return None
    return "unexpected end of JSON input"


def go_kind(v: Any) -> str:
    """The JSON value kind named in UnmarshalTypeError ("string", "number", "bool", ...)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def loads(data: bytes) -> Any:
    """Decode like Go: raise ValueError(go message) on syntax errors."""
    err = syntax_error(data)
    if err:
        raise ValueError(err)
    return json.loads(data)


def unmarshal_into_map_error(data: bytes) -> str | None:
    """json.Unmarshal(data, &map[string]interface{}) error text, as secret validation reports it."""
    err = syntax_error(data)
    if err:
        return err
    v = json.loads(data)
    if v is None or isinstance(v, dict):
        return None
    return f"json: cannot unmarshal {go_kind(v)} into Go value of type map[string]interface {{}}"


_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_DEC_STD = {ord(c): i for i, c in enumerate(_STD)}
_DEC_URL = {ord(c): i for i, c in enumerate(_URL)}


class Base64Error(ValueError):
    """base64.CorruptInputError."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def b64decode(src: str | bytes, *, url: bool = False, padded: bool = True) -> bytes:
    """base64.StdEncoding/RawURLEncoding.DecodeString with Go's error offsets."""
    data = src.encode("latin-1", "replace") if isinstance(src, str) else src
    dmap = _DEC_URL if url else _DEC_STD
    out = bytearray()
    si, n = 0, len(data)
    while True:
        dbuf = [0, 0, 0, 0]
        dlen = 4
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out)
                if j == 1 or padded:
                    raise Base64Error(si - j)
                dlen = j
                break
            c = data[si]
            si += 1
            if c in dmap:
                dbuf[j] = dmap[c]
                j += 1
                continue
            if c in (0x0A, 0x0D):
                continue
            if c != ord("=") or not padded:
                raise Base64Error(si - 1)
            if j in (0, 1):
                raise Base64Error(si - 1)
            if j == 2:
                while si < n and data[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    raise Base64Error(n)
                if data[si] != ord("="):
                    raise Base64Error(si - 1)
                si += 1
            while si < n and data[si] in (0x0A, 0x0D):
                si += 1
            if si < n:
                raise Base64Error(si)
            dlen = j
            break
        val = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3]
        chunk = bytes([(val >> 16) & 0xFF, (val >> 8) & 0xFF, val & 0xFF])
        out += chunk[: dlen - 1] if dlen < 4 else chunk
        if dlen < 4:
            return bytes(out)
