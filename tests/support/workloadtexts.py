"""Workload manifest texts shared by the stream editor's tests and `regcred inject`'s CLI tests: each one is
a layout the editor must keep (comments, quoting, flow style, anchors, JSON indentation, several documents)."""

from __future__ import annotations

import json

DEPLOYMENT = """\
# leading comment of the stream
apiVersion: apps/v1
kind: Deployment   # the kind
metadata:
  name: web
  namespace: "prod"
spec:
  replicas: 2 # two
  template:
    spec:
      containers:
        - name: app
          image: 'registry.example.com/app:1'  # quoted
          args: ["--a", 'b', c]
      # trailing comment of the pod spec
"""

EXISTING_BLOCK = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers:
      - name: db
        image: registry.example.com/db
      imagePullSecrets:
      - name: other   # keep me
      - name: third
"""

EMPTY_FLOW = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers: [{name: a, image: registry.example.com/agent}]
      imagePullSecrets: []
"""

FLOW_SPEC = """\
kind: Pod
apiVersion: v1
metadata: {name: p}
spec: {containers: [{name: a, image: registry.example.com/x}], imagePullSecrets: [{name: a}]}
"""

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: job
            image: registry.example.com/job
            command:
            - |
              echo "multi
              line"
"""

LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap # not a workload
  metadata: {name: cm}
  data: {spec: '{"template": 1}'}
- apiVersion: batch/v1
  kind: Job
  metadata:
    name: j
  spec:
    template:
      spec:
        initContainers:
        - {name: init, image: registry.example.com/init}
        containers:
        - name: main
          image: nginx
"""

MULTI = """\
# first document: a ConfigMap with comments, must stay byte-identical
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings   # inline
data:
  key: 'value'
---
# second: a Deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      serviceAccountName: 'default'
      containers:
      - name: api
        image: registry.example.com/api
---
# third: an unknown kind passes through
apiVersion: example.com/v1
kind: Widget
spec:
  template:
    spec: {containers: [{image: registry.example.com/w}]}
...
"""

JSON_DOC = json.dumps(
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "j", "labels": {"a": "b"}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "registry.example.com/c"}]}}},
    },
    indent=2,
) + "\n"

JSON_LIST = json.dumps(
    {
        "kind": "List",
        "items": [
            {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"image": "x"}],
                                                                 "imagePullSecrets": [{"name": "o"}]}},
            {"kind": "Pod", "metadata": {"name": "q"}, "spec": {"containers": [{"image": "y"}],
                                                                 "imagePullSecrets": []}},
        ],
    },
    indent=4,
)

ANCHORED = """\
kind: Deployment
metadata: {name: anchored}
x-common: &common
  image: registry.example.com/a  # shared
spec:
  template:
    spec:
      containers:
      - <<: *common
        name: a
"""
