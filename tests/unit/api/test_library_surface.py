"""The public Python API: every name in `regcred.__all__` imports and says why it exists, `import regcred` stays
lazy, `Keyring.lookup` normalises the image itself, and the example in docs/api.md runs as printed."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import regcred

API_PAGE = Path(__file__).resolve().parents[3] / "docs" / "api.md"


@pytest.mark.parametrize("name", [n for n in regcred.__all__ if n != "__version__"])
def test_every_public_name_imports_and_has_its_own_docstring(name: str) -> None:
    obj = getattr(regcred, name)
    doc = getattr(obj, "__doc__", None)
    assert doc and doc.strip(), f"regcred.{name} has no docstring"
    assert not doc.startswith(f"{getattr(obj, '__name__', name)}("), f"regcred.{name}: only dataclass's generated doc"
    from_module = __import__(obj.__module__, fromlist=["_"])
    assert getattr(from_module, obj.__name__) is obj  # the real object, not a copy


def test_import_is_lazy_and_names_are_listed() -> None:
    code = ("import sys, regcred; "
            "loaded = sorted(m for m in sys.modules if m.startswith('regcred.') or m in ('click', 'yaml', 'httpx')); "
            "print(loaded); "
            "regcred.Keyring; print('regcred.core.credentials.keyring' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['regcred._version']" and out[1] == "True"  # only the version (a one-line module) loads
    assert set(regcred.__all__) <= set(dir(regcred))
    assert set(regcred.__all__) == {"__version__", *regcred._EXPORTS}  # one list of names, one of modules
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = regcred.no_such_name  # type: ignore[attr-defined]


# -- Keyring.lookup normalises its input --------------------------------------------------------------------

KEYS = {
    "https://index.docker.io/v1/": "hub",
    "registry.example.com": "reg",
    "registry.example.com:5000/team": "team5000",
    "*.example.com": "glob",
    "localhost:5000": "local",
}


def keyring() -> regcred.Keyring:
    auths = ",".join(f'"{key}": {{"username": "{user}", "password": "pw"}}' for key, user in KEYS.items())
    config = regcred.parse_config_json('{"auths": {' + auths + "}}", "test")
    return regcred.build_keyring([(config, "test")])


def users(image: str) -> list[str]:
    return [c.username for c in keyring().lookup(image)]


def test_short_and_normalised_names_agree() -> None:
    same = ["nginx:1.25", "nginx", "library/nginx", "docker.io/library/nginx", "index.docker.io/library/nginx:latest",
            "docker.io/nginx@sha256:" + "a" * 64]
    assert {tuple(users(image)) for image in same} == {("hub",)}
    assert users("registry.example.com/team/app:v1") == ["reg", "glob"]  # all matching keys, reverse byte order
    assert users("registry.example.com:5000/team/app") == ["team5000"]
    assert users("localhost:5000/app:1") == ["local"]
    assert users("quay.io/org/tool") == []


def test_a_reference_the_runtime_refuses_is_an_error() -> None:
    with pytest.raises(regcred.ImageReferenceError):
        keyring().lookup("Registry.example.com/UPPER")
    assert keyring().lookup_repository("registry.example.com/UPPER")  # the kubelet's input, taken verbatim


_component = st.from_regex(r"\A[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?\Z")
_domain = st.sampled_from(["", "docker.io/", "index.docker.io/", "registry.example.com/", "a.example.com/",
                           "registry.example.com:5000/", "localhost:5000/", "localhost/", "quay.io/"])
_tag = st.one_of(st.just(""), st.from_regex(r"\A:[a-z0-9][a-z0-9._-]{0,8}\Z"))
_digest = st.one_of(st.just(""), st.just("@sha256:" + "0123456789abcdef" * 4))
images = st.builds(lambda d, path, t, dg: d + "/".join(path) + t + dg,
                   _domain, st.lists(_component, min_size=1, max_size=3), _tag, _digest)


@given(images)
def test_lookup_of_an_image_is_lookup_of_its_normalised_repository(image: str) -> None:
    ring = keyring()
    repository = regcred.normalize_repository(image)
    assert ring.lookup(image) == ring.lookup(repository) == ring.lookup_repository(repository)


# -- docs/api.md --------------------------------------------------------------------------------------------

def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", API_PAGE.read_text(), flags=re.MULTILINE | re.DOTALL)


def test_the_api_page_example_runs_verbatim_and_prints_what_the_page_says() -> None:
    (example,), (printed,) = _blocks("python"), _blocks("text")
    assert 10 <= len(example.splitlines()) <= 20
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, str(API_PAGE), "exec"), {"__name__": "api_example"})
    assert out.getvalue() == printed


def test_the_api_page_lists_every_public_name() -> None:
    text = API_PAGE.read_text()
    missing = [name for name in regcred.__all__ if f"`{name}" not in text and name != "__version__"]
    assert missing == []


# -- specs: load, resolve, plan -----------------------------------------------------------------------------

SPEC = """\
apiVersion: regcred.dev/v1alpha1
kind: RegistryCredential
metadata: {name: harbor}
spec:
  registries:
    - server: harbor.example.com
      username: robot
      passwordFrom: {env: HARBOR_TOKEN}
  namespaces: {include: ["team-*"]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
"""


def test_load_resolve_and_plan_a_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "harbor.yaml").write_text(SPEC)
    monkeypatch.setenv("HARBOR_TOKEN", "t0ken-value")
    specs = regcred.load_specs(tmp_path)
    assert [s.name for s in specs] == ["harbor"] and isinstance(specs[0], regcred.RegistryCredential)
    desired = regcred.resolve_all(specs, None)
    state = regcred.ClusterState(namespaces=[{"kind": "Namespace", "metadata": {"name": n}} for n in ("team-a", "ops")],
                                 service_accounts=[{"kind": "ServiceAccount",
                                                    "metadata": {"name": "default", "namespace": "team-a"}}])
    result = regcred.plan(desired, state)
    assert {(c.kind, c.action, c.namespace) for c in result.changes} == {
        ("Secret", "create", "team-a"), ("ServiceAccount", "add", "team-a")}
    assert "t0ken-value" not in repr(result) and not result.in_sync
    monkeypatch.delenv("HARBOR_TOKEN")
    with pytest.raises(regcred.SpecInvalid, match="HARBOR_TOKEN"):
        regcred.resolve_all(specs, None)
