"""The kubelet's --root-dir, HOME and working directory, read from real-world unit and env file text."""

from __future__ import annotations

from regcred.core.node import kubeletflags as kf

KUBEADM_DROPIN = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
BASE_UNIT = """\
[Unit]
Description=kubelet
[Service]
ExecStart=/usr/bin/kubelet
Restart=always
"""


def settings(units, env_files, passwd=None):
    return kf.kubelet_settings(kf.parse_units(units) if units else None, env_files, passwd_text=passwd)


def test_defaults_without_any_file():
    s = settings([], [(p, None) for p in kf.FALLBACK_ENV_FILES])
    assert (s.root_dir, s.root_dir_source, s.home, s.cwd, s.user_home) == ("/var/lib/kubelet", "default", None, "/", "/root")


def test_kubeadm_flags_env_sets_root_dir():
    env = 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock --root-dir=/data/kubelet/"\n'
    s = settings([("/usr/lib/systemd/system/kubelet.service", BASE_UNIT),
                  ("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)],
                 [(kf.KUBEADM_FLAGS_ENV, env), ("/etc/default/kubelet", None)])
    assert s.root_dir == "/data/kubelet"
    assert s.root_dir_source == kf.KUBEADM_FLAGS_ENV
    assert s.home is None


def test_default_kubelet_extra_args_space_separated_flag_and_later_value_wins():
    s = settings([("/lib/systemd/system/kubelet.service", BASE_UNIT), ("/etc/x.d/10-kubeadm.conf", KUBEADM_DROPIN)],
                 [(kf.KUBEADM_FLAGS_ENV, 'KUBELET_KUBEADM_ARGS="--root-dir=/first"'),
                  ("/etc/default/kubelet", "# extra\nKUBELET_EXTRA_ARGS=--root-dir /second --v=2\n")])
    assert s.root_dir == "/second"
    assert s.root_dir_source == "/etc/default/kubelet"


def test_without_unit_the_fallback_files_are_read():
    s = settings([], [("/etc/default/kubelet", "KUBELET_EXTRA_ARGS='--root-dir=/srv/kubelet'"),
                      ("/etc/sysconfig/kubelet", None), (kf.KUBEADM_FLAGS_ENV, None)])
    assert s.root_dir == "/srv/kubelet"


def test_home_working_directory_and_user_from_the_unit():
    unit = BASE_UNIT + 'Environment="HOME=/home/kube" "OTHER=x y"\nWorkingDirectory=/var/lib/kubelet\nUser=kube\n'
    s = settings([("/etc/systemd/system/kubelet.service", unit)], [],
                 passwd="root:x:0:0::/root:/bin/sh\nkube:x:990:990::/var/lib/kube:/sbin/nologin\n")
    assert (s.home, s.cwd, s.user, s.user_home) == ("/home/kube", "/var/lib/kubelet", "kube", "/var/lib/kube")


def test_environment_file_overrides_environment_and_empty_assignment_resets():
    unit = BASE_UNIT + "Environment=HOME=/from-unit\nEnvironmentFile=/etc/kubelet.env\n"
    dropin = "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --root-dir=/x\n"
    s = settings([("/a/kubelet.service", unit), ("/a/kubelet.service.d/20.conf", dropin)],
                 [("/etc/kubelet.env", "HOME=/from-file\n")])
    assert s.home == "/from-file" and s.root_dir == "/x"
    reset = settings([("/a/kubelet.service", unit + "Environment=\nEnvironmentFile=\n")], [])
    assert reset.home is None


def test_continuation_lines_and_braced_variables():
    unit = "[Service]\nEnvironment=ARGS=--root-dir=/cont\nExecStart=/usr/bin/kubelet \\\n  ${ARGS} --v=2\n"
    assert settings([("/u", unit)], []).root_dir == "/cont"


def test_with_env_assignment_is_idempotent_and_keeps_other_lines():
    text = 'KUBELET_KUBEADM_ARGS="--pod-infra-container-image=registry.k8s.io/pause:3.9"\n'
    once = kf.with_env_assignment(text, "HOME", "/root")
    assert once == text + "HOME=/root\n"
    assert kf.with_env_assignment(once, "HOME", "/root") is None
    changed = kf.with_env_assignment(once, "HOME", "/home/k")
    assert changed is not None and changed.count("HOME=") == 1 and "KUBELET_KUBEADM_ARGS" in changed
    assert kf.with_env_assignment(None, "HOME", "/root") == "HOME=/root\n"


def test_user_in_the_unit_makes_systemd_set_home():
    # systemd.exec: $HOME is set for units that have User= set (User=root included); Environment= wins.
    unit = BASE_UNIT.replace("[Service]\n", "[Service]\nUser=root\n")
    s = settings([("/etc/systemd/system/kubelet.service", unit)], [])
    assert (s.home, s.home_source) == ("/root", "User=root in the kubelet unit")
    passwd = "kube:x:900:900::/home/kube-svc:/bin/false\n"
    s = settings([("/etc/systemd/system/kubelet.service", unit.replace("User=root", "User=kube"))], [], passwd)
    assert s.home == "/home/kube-svc"
    s = settings([("/etc/systemd/system/kubelet.service", unit.replace("User=root", "User=root\nEnvironment=HOME=/x"))], [])
    assert s.home == "/x"
    assert settings([("/etc/systemd/system/kubelet.service", BASE_UNIT)], []).home is None


def test_working_directory_tilde_and_dash():
    unit = BASE_UNIT.replace("[Service]\n", "[Service]\nWorkingDirectory=~\n")
    assert settings([("/etc/systemd/system/kubelet.service", unit)], []).cwd == "/root"
    unit = BASE_UNIT.replace("[Service]\n", "[Service]\nWorkingDirectory=-/srv/kubelet\n")
    assert settings([("/etc/systemd/system/kubelet.service", unit)], []).cwd == "/srv/kubelet"


# --- second review: pflag normalisation, the space form, quoted values --------------------------------------------


def test_flag_value_reads_underscores_as_pflag_does():
    assert kf.flag_value(["--root_dir=/a"], "--root-dir") == "/a"
    assert kf.flag_value(["--root_dir", "/b", "--v=2"], "--root-dir") == "/b"
    assert kf.flag_value(["--root-dir=/a", "--root_dir=/c"], "--root-dir") == "/c"  # the last one wins
    assert kf.flag_value(["--root-dir", "--v=2"], "--root-dir") == "--v=2"  # pflag takes the next word, whatever it is
    assert kf.flag_value(["--root-dir=/a", "--", "--root-dir=/b"], "--root-dir") == "/a"  # `--` ends the flags
    assert kf.flag_value(["-root-dir=/a", "--root-dirx=/b"], "--root-dir") is None


def test_kubeadm_flags_env_with_underscores_spaces_and_quotes():
    unit = [("/usr/lib/systemd/system/kubelet.service", BASE_UNIT),
            ("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)]
    for env, want in (
        ('KUBELET_KUBEADM_ARGS="--v=2 --root_dir=/data/k"\n', "/data/k"),
        ('KUBELET_KUBEADM_ARGS="--v=2 --root-dir /data/k2"\n', "/data/k2"),
        ("KUBELET_KUBEADM_ARGS=\"--root-dir='/data/my kubelet' --v=2\"\n", "/data/my kubelet"),
        ('KUBELET_KUBEADM_ARGS="--root-dir=\\"/data/esc aped\\" --v=2"\n', "/data/esc aped"),
    ):
        s = settings(unit, [(kf.KUBEADM_FLAGS_ENV, env), ("/etc/default/kubelet", None)])
        assert (s.root_dir, s.root_dir_source) == (want, kf.KUBEADM_FLAGS_ENV), env
    # no unit: the usual variables of the usual files, read the same way
    s = settings([], [("/etc/default/kubelet", "KUBELET_EXTRA_ARGS='--root_dir=/srv/kubelet'\n")])
    assert (s.root_dir, s.root_dir_source) == ("/srv/kubelet", "/etc/default/kubelet")


def test_env_file_values_as_systemd_reads_them():
    env = kf.parse_env_file("A='x y'\nB=\"q \\\" \\\\ \\$\"\nC=plain  \nD=a\\ b\n")
    assert env == {"A": "x y", "B": 'q " \\ $', "C": "plain", "D": "a b"}
