"""The container image `./dev image` builds (dist/regcred-image.tar), loaded and run for real.

skopeo reads the OCI archive (what `skopeo copy oci-archive:…` users do), its one layer is unpacked into a
root filesystem, and regcred runs inside it with chroot: as the image's default non-root user (the controller)
and as root through /bin/sh (the node DaemonSet's command). Building takes minutes, so the tests use an archive
built beforehand (`./dev image`, which CI runs first) and skip with that hint when there is none.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from regcred import __version__
from tests.support.fixtures import require_binaries, require_component

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[3]
ARCHIVE = Path(os.environ.get("REGCRED_IMAGE_ARCHIVE", ROOT / "dist" / "regcred-image.tar"))
_spec = importlib.util.spec_from_file_location("regcred_image_build", ROOT / "deploy" / "image" / "build.py")
assert _spec is not None and _spec.loader is not None
image_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(image_build)


@pytest.fixture(scope="module")
def archive() -> Path:
    if not ARCHIVE.is_file():
        require_component(f"no image archive at {ARCHIVE}: build it with ./dev image")
    require_binaries("skopeo")
    return ARCHIVE


@pytest.fixture(scope="module")
def rootfs(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's file system, as a runtime would lay it out (skopeo copies it to a layout first)."""
    if os.geteuid() != 0:
        require_component("unpacking and chrooting into the image needs root")
    work = tmp_path_factory.mktemp("image")
    layout = work / "layout"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci-archive:{archive}", f"oci:{layout}:t"], check=True)
    index = json.loads((layout / "index.json").read_text())
    manifest = _blob(layout, index["manifests"][0]["digest"])
    (layer,) = manifest["layers"]
    root = work / "rootfs"
    root.mkdir()
    with tarfile.open(layout / "blobs" / "sha256" / layer["digest"].split(":", 1)[1]) as tar:
        tar.extractall(root, filter="fully_trusted")  # our own image, unpacked as a runtime would, as root
    return root


def _blob(layout: Path, digest: str) -> dict:
    return json.loads((layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_text())


def _inspect(archive: Path) -> dict:
    out = subprocess.run(["skopeo", "inspect", "--config", f"oci-archive:{archive}"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def test_skopeo_reads_the_archive_and_its_config(archive: Path) -> None:
    config = _inspect(archive)
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    assert config["config"]["User"] == f"{image_build.USER_ID}:{image_build.USER_ID}"
    assert config["config"]["Entrypoint"] == ["/opt/regcred/bin/regcred"]
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == __version__


def test_regcred_runs_inside_as_the_non_root_user(rootfs: Path) -> None:
    uid = image_build.USER_ID
    result = subprocess.run(
        ["chroot", f"--userspec={uid}:{uid}", str(rootfs), "/opt/regcred/bin/regcred", "--version"],
        capture_output=True, text=True, env={"PATH": image_build.PATH}, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout
    assert re.search(rf"^regcred:x:{uid}:{uid}:", (rootfs / "etc/passwd").read_text(), re.M)


def test_the_node_daemonset_shell_finds_regcred_and_works_offline(rootfs: Path) -> None:
    """The DaemonSet runs `/bin/sh -c` with regcred on PATH; an offline command does real work inside."""
    (rootfs / "tmp" / "config.json").write_text(json.dumps({"auths": {"registry.example.com": {"auth": "dTpw"}}}))
    script = "regcred auth list --file /tmp/config.json -o json"
    result = subprocess.run(["chroot", str(rootfs), "/bin/sh", "-c", script],
                            capture_output=True, text=True, env={"PATH": image_build.PATH}, check=False)
    assert result.returncode == 0, result.stderr
    assert "registry.example.com" in result.stdout


def test_the_dockerfile_installs_the_same_package_the_same_way() -> None:
    """Both builds install this checkout's package (hence the same `regcred --version`) into /opt/regcred,
    with the same default user and entrypoint."""
    text = (ROOT / "deploy" / "image" / "Dockerfile").read_text()
    assert "COPY pyproject.toml" in text and "COPY src ./src" in text
    assert "/opt/regcred/bin/pip install ." in text
    assert f"USER {image_build.USER_ID}:{image_build.USER_ID}" in text
    assert 'ENTRYPOINT ["/opt/regcred/bin/regcred"]' in text
    assert f"regcred:x:{image_build.USER_ID}:{image_build.USER_ID}:" in text
