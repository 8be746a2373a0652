"""Build regcred's container image without a Docker engine: `./dev image` runs this.

Why this way: these machines have no Docker engine and can pull no base image, but they reach Debian's
package archive and PyPI. So the root filesystem comes from Debian's packages (mmdebstrap, minimal:
essential + python3-minimal + the standard library + CA certificates), regcred and its dependencies are
installed from wheels into a virtualenv at /opt/regcred, and the layer is packed into an OCI archive by
regcred's own standard-library OCI writer. One image serves the controller (default user 65532, non-root)
and the node DaemonSet (which runs it as uid 0 through its securityContext).

Usage: python deploy/image/build.py [--out dist/regcred-image.tar] [--suite bookworm] [--mirror URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from regcred import __version__
from regcred.localregistry.oci import tag_image, write_image, write_oci_archive

ROOT = Path(__file__).resolve().parents[2]
USER_ID = 65532
PACKAGES = ["python3-minimal", "libpython3.11-stdlib", "ca-certificates"]
EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*",
            "/usr/share/lintian/*"]
PATH = "/opt/regcred/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def run(*argv: str, **kwargs: object) -> None:
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def collect_wheels(dest: Path) -> None:
    """regcred's wheel, every dependency as a binary wheel, and pip's wheel to install them with."""
    python = sys.executable
    run(python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), str(ROOT))
    wheel = next(dest.glob("regcred-*.whl"))
    run(python, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(dest), str(wheel))
    run(python, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps", "-d", str(dest), "pip")


def build_rootfs(wheels: Path, out_tar: Path, *, suite: str, mirror: str) -> None:
    """A minimal Debian root filesystem with /opt/regcred, as an uncompressed tar."""
    pip_wheel = next(wheels.glob("pip-*.whl")).name  # pip runs straight from its wheel: none is left behind
    hooks = [
        f'mkdir -p "$1/tmp/wheels" && cp {wheels}/* "$1/tmp/wheels/"',
        'chroot "$1" python3 -m venv --without-pip /opt/regcred',
        f'chroot "$1" /opt/regcred/bin/python /tmp/wheels/{pip_wheel}/pip install -q --no-index '
        '--disable-pip-version-check --find-links /tmp/wheels regcred',
        'rm -rf "$1/tmp/wheels"',
        f'echo "regcred:x:{USER_ID}:{USER_ID}:regcred:/nonexistent:/usr/sbin/nologin" >> "$1/etc/passwd"',
        f'echo "regcred:x:{USER_ID}:" >> "$1/etc/group"',
        'rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*',
    ]
    argv = ["mmdebstrap", "--quiet", "--variant=essential", "--mode=root",
            "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr", "--include=" + ",".join(PACKAGES)]
    argv += [f"--dpkgopt=path-exclude={pattern}" for pattern in EXCLUDES]
    argv += [f"--customize-hook={hook}" for hook in hooks]
    argv += [suite, str(out_tar), mirror]
    # the host's pip settings (extra indexes, find-links) mean nothing inside the chroot: leave them out
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["SOURCE_DATE_EPOCH"] = os.environ.get("SOURCE_DATE_EPOCH", "0")
    env["PIP_CONFIG_FILE"] = os.devnull
    run(*argv, env=env)


def pack(rootfs_tar: Path, archive: Path, work: Path) -> None:
    """The OCI archive: one gzipped layer, a config with regcred as entrypoint and a non-root default user."""
    layout = work / "layout"
    descriptor = write_image(
        layout,
        rootfs_tar.read_bytes(),
        {
            "User": f"{USER_ID}:{USER_ID}",
            "Env": [f"PATH={PATH}", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"],
            "Entrypoint": ["/opt/regcred/bin/regcred"],
            "Cmd": ["--help"],
            "WorkingDir": "/",
        },
        created_by="regcred deploy/image/build.py (mmdebstrap + pip)",
        labels={
            "org.opencontainers.image.title": "regcred",
            "org.opencontainers.image.version": __version__,
            "org.opencontainers.image.licenses": "Apache-2.0",
        },
    )
    tag_image(layout, descriptor, __version__)
    partial = archive.with_name(f".{archive.name}.partial")
    write_oci_archive(layout, partial)
    partial.replace(archive)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "regcred-image.tar")
    parser.add_argument("--suite", default="bookworm")
    parser.add_argument("--mirror", default="http://deb.debian.org/debian")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("image build: mmdebstrap --mode=root needs root (run as root, or in a root CI job)", file=sys.stderr)
        return 2
    if shutil.which("mmdebstrap") is None:
        print("image build: mmdebstrap is missing (apt-get install mmdebstrap)", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="regcred-image-") as tmp:
        work = Path(tmp)
        (work / "wheels").mkdir()
        log("collecting wheels")
        collect_wheels(work / "wheels")
        log(f"building a Debian {args.suite} root filesystem (mmdebstrap)")
        build_rootfs(work / "wheels", work / "rootfs.tar", suite=args.suite, mirror=args.mirror)
        rootfs_size = (work / "rootfs.tar").stat().st_size
        log("packing the OCI archive")
        pack(work / "rootfs.tar", args.out, work)
    size = args.out.stat().st_size
    log(f"{args.out}: regcred {__version__}, {size / 2**20:.1f} MiB compressed, "
        f"{rootfs_size / 2**20:.1f} MiB root filesystem")
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
