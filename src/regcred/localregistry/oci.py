"""Build OCI image layouts offline, with the standard library only.

Tests need a real image to push into a real registry, without network access
and without depending on any image tool; `./dev image` packs regcred's own
image with the same writer. Every timestamp is fixed (tar mtime 0,
gzip mtime 0) so the same content always yields the same digests, which lets
tests assert on digests if they want to.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

OCI_LAYOUT_VERSION = "1.0.0"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical_json(obj: Any) -> bytes:
    """Sorted, compact JSON: the same object always hashes to the same digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _write_blob(layout: Path, data: bytes) -> dict[str, Any]:
    """Store a blob under blobs/sha256 and return its descriptor core."""
    digest = _digest(data)
    blob_dir = layout / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    (blob_dir / digest.split(":", 1)[1]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _layer_tar(content: bytes) -> bytes:
    """An uncompressed tar holding /hello.txt, with fixed metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _gzip(data: bytes, level: int = 9) -> bytes:
    """gzip with mtime 0 and no file name, so the output is repeatable."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", filename="", mtime=0, compresslevel=level) as gz:
        gz.write(data)
    return buf.getvalue()


def build_image_blobs(layout: Path, content: bytes) -> dict[str, Any]:
    """Write the test image's layer (one /hello.txt), config and manifest blobs; return the manifest descriptor."""
    return write_image(layout, _layer_tar(content), {"Cmd": ["/hello.txt"]}, created_by="regcred test harness")


def write_image(layout: Path, layer_tar: bytes, config: dict[str, Any], *, created_by: str,
                labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Write one single-layer linux/amd64 image (gzipped layer, config, manifest) into ``layout``.

    ``layer_tar`` is the uncompressed root filesystem tar; ``config`` is the OCI image config's ``config``
    object (User, Env, Entrypoint, Cmd, ...). Returns the manifest descriptor for index.json.
    """
    layer = _write_blob(layout, _gzip(layer_tar, level=6))  # 6: nearly 9's size at a third of its time
    image_config = dict(config)
    if labels:
        image_config["Labels"] = dict(labels)
    config_doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]},
        "history": [{"created_by": created_by}],
    }
    config_blob = _write_blob(layout, _canonical_json(config_doc))
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, **config_blob},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, **layer}],
    }
    manifest = _write_blob(layout, _canonical_json(manifest_doc))
    return {"mediaType": MEDIA_MANIFEST, **manifest}


def tag_image(layout: Path, descriptor: dict[str, Any], tag: str) -> None:
    """Point ``tag`` at ``descriptor`` in the layout's index.json (creating the layout files if needed)."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
    index_path = layout / "index.json"
    manifests: list[dict[str, Any]] = []
    if index_path.exists():
        manifests = [
            m
            for m in json.loads(index_path.read_text()).get("manifests", [])
            if m.get("annotations", {}).get(REF_NAME_ANNOTATION) != tag
        ]
    manifests.append({**descriptor, "annotations": {REF_NAME_ANNOTATION: tag}})
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests}
    index_path.write_text(json.dumps(index, indent=2))


def write_oci_archive(layout: Path, archive: Path) -> None:
    """Pack a layout into an ``oci-archive`` (a tar of the layout directory, as skopeo reads it)."""
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(layout.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(layout)))
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)


def build_oci_layout(dest: Path, tag: str = "v1", content: bytes = b"hello") -> Path:
    """Create (or extend) an OCI image layout at ``dest`` with one image tagged ``tag``.

    Calling it again on the same directory adds or replaces that tag, so one
    layout can hold several tags. Returns ``dest``; the image is then
    addressable as ``oci:DEST:TAG`` (skopeo syntax).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tag_image(dest, build_image_blobs(dest, content), tag)
    return dest


def manifest_digest(layout: Path, tag: str) -> str:
    """Digest of the manifest tagged ``tag`` in a layout built above."""
    index = json.loads((Path(layout) / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME_ANNOTATION) == tag:
            return str(entry["digest"])
    raise KeyError(tag)
