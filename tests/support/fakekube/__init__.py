"""An in-process, HTTP-level fake of kube-apiserver v1.36 for regcred's tests.

Faithful to recordings of a real apiserver (tests/kube/fakekube/test_conformance.py replays them):
status codes, reasons, messages, details, list/watch shapes, patch semantics (json-patch,
merge, strategic merge with the upstream merge keys, server-side apply with managedFields),
Secret validation, ServiceAccount admission, namespace termination, RBAC-like 403s; for a
controller (tests/kube/fakekube/test_conformance_controller.py): custom resources served from
CustomResourceDefinitions, finalizers, Leases, Events in two APIs, bookmarks, selector
translation in watches, 410 after compaction; for an admission webhook
(tests/kube/fakekube/test_conformance_webhook.py): MutatingWebhookConfigurations, and the
webhooks they register called on create (selectors, clientConfig.url + caBundle, timeouts,
failurePolicy, dry runs, JSON patches, warnings, reinvocation).

Entry point: ``FakeKube(tls=False, bootstrap=True, controller_service_accounts=False,
**Options)`` with ``start()/stop()`` (or ``with``), ``url``, ``admin`` (token user),
``write_kubeconfig(path, user=None)``, ``add_user(rules, name=None)``, ``grant(username, rules)``,
``seed(obj)``, ``get_object(...)``, ``finish_namespace_deletion(name)``,
``compact(restart=False)``, ``request_log`` (``count/filter/clear/counts``), ``before_write`` (callable
receiving a ``WriteEvent``), ``fail_next(method, path_regex, status, ...)``, ``fail(verb, resource,
status, ...)``, ``race_next(verb, resource, ...)``, ``drop_watches(resource)``, ``install_crd(crd)``
(docs/development/tests.md describes them).
``Options`` (controllers.py) switches the emulated kube-controller-manager behaviour.
"""

from .auth import Rule, User
from .controllers import Options
from .router import WriteEvent
from .server import FakeKube, Record, RequestLog

__all__ = ["FakeKube", "Options", "Record", "RequestLog", "Rule", "User", "WriteEvent"]
