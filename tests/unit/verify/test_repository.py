"""`--repository` values, and which of them apply to one registry."""

from __future__ import annotations

import pytest

from regcred.core.errors import InputError
from regcred.core.verify.repository import RepositoryRef, parse_repository_option, repositories_for


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("team/app", RepositoryRef("team/app", "latest")),
        ("team/app:v1", RepositoryRef("team/app", "v1")),
        ("reg.example.com:5000/team/app:v1", RepositoryRef("team/app", "v1", "reg.example.com:5000")),
        ("localhost/x", RepositoryRef("x", "latest", "localhost")),
        ("Mirror/team/app:v1", RepositoryRef("team/app", "v1", "Mirror")),  # upper case: a host, as in an image
        ("docker.io/nginx:1.25", RepositoryRef("library/nginx", "1.25", "registry-1.docker.io")),
        ("team/app@sha256:" + "a" * 64, RepositoryRef("team/app", "sha256:" + "a" * 64, None, True)),
    ],
)
def test_repository_option(value: str, expected: RepositoryRef) -> None:
    assert parse_repository_option(value) == expected


def test_repository_labels() -> None:
    assert parse_repository_option("team/app:v1").label == "team/app:v1"
    assert parse_repository_option("team/app@sha256:" + "b" * 64).label == "team/app@sha256:" + "b" * 64


@pytest.mark.parametrize("value", ["", "team/ app", "/x", "x/", "a//b", "team/app:", "Team/App:v1", "team/app:-v1",
                                   "team/app@sha256:xyz", "team/app:v1:v2", "team/app@"])
def test_bad_repository_option(value: str) -> None:
    with pytest.raises(InputError, match="invalid --repository"):
        parse_repository_option(value)


def test_repositories_for_keeps_unqualified_and_matching_ones_once() -> None:
    refs = [parse_repository_option(v) for v in ("a:1", "r1.io/b:2", "r2.io/c:3", "a:1")]
    assert [r.label for r in repositories_for("r1.io", refs)] == ["a:1", "b:2"]


def test_docker_hub_official_images_are_under_library() -> None:
    refs = [parse_repository_option("nginx:1.25"), parse_repository_option("team/app")]
    hub = repositories_for("registry-1.docker.io", refs)
    assert [r.label for r in hub] == ["library/nginx:1.25", "team/app:latest"]
    assert [r.label for r in repositories_for("reg.example.com", refs)] == ["nginx:1.25", "team/app:latest"]
