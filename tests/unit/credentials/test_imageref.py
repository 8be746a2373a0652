"""Image references normalise to the repository string the kubelet looks up."""

import pytest

from regcred.core.credentials.imageref import normalize_repository, parse_image
from regcred.core.errors import ImageReferenceError


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("nginx:1.25", "docker.io/library/nginx"),
        ("root", "docker.io/library/root"),
        ("user/repo:tag", "docker.io/user/repo"),
        ("url:5000/repo@sha256:" + "a" * 64, "url:5000/repo"),
        ("index.docker.io/library/nginx", "docker.io/library/nginx"),
        ("docker.io/nginx", "docker.io/library/nginx"),
        ("localhost/app", "localhost/app"),
        ("localhost:5000/team/app:v1", "localhost:5000/team/app"),
        ("registry.example.com/team/app:v1@sha256:" + "b" * 64, "registry.example.com/team/app"),
        ("quay.io/coreos/etcd", "quay.io/coreos/etcd"),
        ("Registry.Example/app", "Registry.Example/app"),  # upper-case first component is a registry
        ("127.0.0.1:5000/a_b/c__d/e-f", "127.0.0.1:5000/a_b/c__d/e-f"),
        ("[::1]:5000/app", "[::1]:5000/app"),
    ],
)
def test_normalisation(image: str, repository: str) -> None:
    assert normalize_repository(image) == repository


@pytest.mark.parametrize(
    "image",
    ["", "app/UPPER", "docker.io/Library/nginx", "a" * 64, "nginx:", "nginx@sha256:short", "-bad/x", "a//b", "app:tag:tag", "reg.io/app/"],
)
def test_invalid_references(image: str) -> None:
    with pytest.raises(ImageReferenceError):
        parse_image(image)


def test_tag_and_digest_are_kept_apart() -> None:
    ref = parse_image("reg.io:443/a/b:v2")
    assert (ref.domain, ref.path, ref.tag, ref.digest, ref.registry) == ("reg.io:443", "a/b", "v2", None, "reg.io:443")
    assert parse_image("nginx").registry == "registry-1.docker.io"
