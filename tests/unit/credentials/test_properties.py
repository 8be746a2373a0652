"""Property-based checks of the parser round trip and the matcher."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from regcred.core.credentials import dockerconfig as dc
from regcred.core.credentials.gobase64 import decode_auth, encode_auth
from regcred.core.credentials.gojson import go_compact_dumps
from regcred.core.credentials.keyring import Credential, Keyring

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
users = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=":"), max_size=20)
label = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\Z")
host = st.lists(label, min_size=1, max_size=4).map(".".join)
port = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
path = st.lists(label, max_size=3).map(lambda parts: "".join("/" + p for p in parts))


@given(users, text)
def test_auth_round_trip(username: str, password: str) -> None:
    assert decode_auth(encode_auth(username, password)) == (username, password)


@given(st.dictionaries(host, st.tuples(users, text, text), max_size=5))
def test_written_documents_parse_back(entries: dict[str, tuple[str, str, str]]) -> None:
    config = dc.parse_config_json("{}", "f")
    for key, (username, password, email) in entries.items():
        config = dc.parse_config_json(json.dumps(dc.with_entry(config, key, username, password, email)), "f")
    for compact in (False, True):
        raw = config.raw
        serialised = go_compact_dumps(raw) if compact else dc.dumps_file(raw)
        again = dc.parse_config_json(serialised, "f")
        got = {e.key: (e.username, e.password, e.email) for e in again}
        assert got == {k: (u, p, e) for k, (u, p, e) in entries.items()}


@given(host, port, path, path)
@settings(max_examples=200)
def test_a_key_matches_its_own_repositories(h: str, p: str, key_path: str, extra: str) -> None:
    keyring = Keyring()
    keyring.add(Credential(f"{h}{p}{key_path}", "u", "pw"))
    assert keyring.lookup_repository(f"{h}{p}{key_path}{extra or '/app'}")


@given(host, port, path, host)
@settings(max_examples=200)
def test_no_match_on_another_host_or_port(h: str, p: str, repo_path: str, other: str) -> None:
    keyring = Keyring()
    keyring.add(Credential(f"{h}{p}", "u", "pw"))
    if other != h:
        assert not keyring.lookup_repository(f"{other}{p}{repo_path or '/x'}")
    assert not keyring.lookup_repository(f"{h}:{(int(p[1:]) % 65535) + 1 if p else 1}{repo_path or '/x'}")


@given(st.lists(st.tuples(host, path), min_size=1, max_size=8), host, path)
@settings(max_examples=200)
def test_lookup_equals_a_brute_force_scan(keys: list[tuple[str, str]], h: str, repo_path: str) -> None:
    """The indexed lookup returns what scanning every key in reverse byte order returns."""
    keyring = Keyring()
    for i, (kh, kp) in enumerate(keys):
        keyring.add(Credential(f"{kh}{kp}", f"u{i}", "pw"))
    repository = f"{h}{repo_path or '/x'}"
    slots: dict[str, list[str]] = {}
    for i, (kh, kp) in enumerate(keys):
        slots.setdefault(f"{kh}{kp}", []).append(f"u{i}")
    expected = [
        user
        for key in sorted(slots, reverse=True)
        if repository.split("/", 1)[0] == key.split("/", 1)[0]
        and ("/" + repository.split("/", 1)[1]).startswith(key[len(key.split("/", 1)[0]):])
        for user in slots[key]
    ]
    if not expected and "." not in h and "index.docker.io" in slots:
        return
    assert [c.username for c in keyring.lookup_repository(repository)] == expected


glob_label = st.sampled_from(["*", "a*", "*b", "[0-9]", "[ab]", "[^a]*", "x", "\\x"])  # "?" starts a URL query
glob_host = st.lists(st.one_of(label, glob_label), min_size=1, max_size=4).map(".".join)


@given(st.lists(st.tuples(glob_host, path), min_size=1, max_size=8), host, path)
@settings(max_examples=300)
def test_glob_lookup_equals_label_by_label_scan(keys: list[tuple[str, str]], h: str, repo_path: str) -> None:
    """With globs, the indexed lookup still equals the kubelet's scan (label count, filepath.Match, prefix)."""
    from regcred.core.credentials.gomatch import match
    from regcred.core.credentials.registrykey import index_key

    keyring = Keyring()
    slots: dict[str, list[str]] = {}
    for i, (kh, kp) in enumerate(keys):
        keyring.add(Credential(f"{kh}{kp}", f"u{i}", "pw"))
        if index_key(f"{kh}{kp}") is not None:  # a leading '[' is an IPv6 literal to Go: such keys are skipped
            slots.setdefault(f"{kh}{kp}", []).append(f"u{i}")
    repository = f"{h}{repo_path or '/x'}"
    target_labels = h.split(".")
    target_path = repository[len(h):]
    expected = []
    for key in sorted(slots, reverse=True):
        key_host, _, key_rest = key.partition("/")
        key_labels = key_host.split(".")
        if (
            len(key_labels) == len(target_labels)
            and all(match(p, t) for p, t in zip(key_labels, target_labels, strict=True))
            and target_path.startswith("/" + key_rest if key_rest else "")
        ):
            expected.extend(slots[key])
    if not expected and "." not in h:
        return  # the Docker Hub fallback rule applies; covered elsewhere
    assert [c.username for c in keyring.lookup_repository(repository)] == expected
