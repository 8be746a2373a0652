"""Build a tiny OCI image layout offline, with the standard library only.

Tests need a real image to push into a real registry, without network access
and without depending on any image tool. Every timestamp is fixed (tar mtime 0,
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


def _gzip(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name, so the output is repeatable."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", filename="", mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def build_image_blobs(layout: Path, content: bytes) -> dict[str, Any]:
    """Write layer, config and manifest blobs; return the manifest descriptor."""
    raw_layer = _layer_tar(content)
    layer = _write_blob(layout, _gzip(raw_layer))
    config_doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [_digest(raw_layer)]},
        "history": [{"created_by": "regcred test harness"}],
    }
    config = _write_blob(layout, _canonical_json(config_doc))
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, **config},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, **layer}],
    }
    manifest = _write_blob(layout, _canonical_json(manifest_doc))
    return {"mediaType": MEDIA_MANIFEST, **manifest}


def build_oci_layout(dest: Path, tag: str = "v1", content: bytes = b"hello") -> Path:
    """Create (or extend) an OCI image layout at ``dest`` with one image tagged ``tag``.

    Calling it again on the same directory adds or replaces that tag, so one
    layout can hold several tags. Returns ``dest``; the image is then
    addressable as ``oci:DEST:TAG`` (skopeo syntax).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}))

    descriptor = build_image_blobs(dest, content)
    descriptor["annotations"] = {REF_NAME_ANNOTATION: tag}

    index_path = dest / "index.json"
    manifests: list[dict[str, Any]] = []
    if index_path.exists():
        manifests = [
            m
            for m in json.loads(index_path.read_text()).get("manifests", [])
            if m.get("annotations", {}).get(REF_NAME_ANNOTATION) != tag
        ]
    manifests.append(descriptor)
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests}
    index_path.write_text(json.dumps(index, indent=2))
    return dest


def manifest_digest(layout: Path, tag: str) -> str:
    """Digest of the manifest tagged ``tag`` in a layout built above."""
    index = json.loads((Path(layout) / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME_ANNOTATION) == tag:
            return str(entry["digest"])
    raise KeyError(tag)
