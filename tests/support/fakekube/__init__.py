"""An in-process, HTTP-level fake of kube-apiserver v1.36 for regcred's tests.

See ``FakeKube`` (server.py) for the entry point and test hooks, ``Rule`` (auth.py) for
restricted identities, and ``Options`` (controllers.py) for the emulated controller behaviour.
"""

from .auth import Rule, User
from .controllers import Options
from .router import WriteEvent
from .server import FakeKube, Record, RequestLog

__all__ = ["FakeKube", "Options", "Record", "RequestLog", "Rule", "User", "WriteEvent"]
