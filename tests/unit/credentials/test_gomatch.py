"""Go filepath.Match semantics for one host label (Python's fnmatch differs)."""

import pytest

from regcred.core.credentials.gomatch import match


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "anything", True),
        ("*", "", True),
        ("prefix", "prefix", True),
        ("pre*", "prefix", True),
        ("*-good", "a-good", True),
        ("*-good", "a-bad", False),
        ("?", "a", True),
        ("?", "ab", False),
        ("[abc]", "b", True),
        ("[^abc]", "b", False),
        ("[^abc]", "d", True),
        ("[!abc]", "!", True),  # '!' is not negation in Go
        ("[a-c]x", "bx", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("[", "[", False),  # malformed: no match
        ("[]a]", "a", False),
        ("[a-]", "a", False),
        ("\\", "\\", False),
        ("Reg", "reg", False),  # case-sensitive
    ],
)
def test_match(pattern: str, name: str, expected: bool) -> None:
    assert match(pattern, name) is expected
