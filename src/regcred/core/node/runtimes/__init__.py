"""Container-runtime credential settings as data: what to change in containerd, CRI-O and k3s/rke2 files.

The runtime, not the kubelet, pulls the pause (sandbox) image, with its own credentials
(docs/concepts/kubelet-rules.md#j). One module per runtime: `containerd`, `crio`, and `k3s`
(k3s and rke2 share registries.yaml); the names and records they share are in `common`, and `configfile` picks
the file and reader of a runtime. Every edit takes text and returns new text, or None for no change. This
package imports nothing itself, so that naming a runtime (`common`) does not load every runtime's parser.
"""
