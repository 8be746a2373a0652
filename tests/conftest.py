pytest_plugins = ["tests.support.fixtures", "tests.support.kube", "tests.support.node"]
