"""A real docker registry on loopback, for `regcred demo` and for the test suite.

It runs Debian's `docker-registry` (distribution) with htpasswd or token auth, optionally over TLS,
and pushes a tiny image built offline with the real `skopeo`: the same parts users meet.
"""
