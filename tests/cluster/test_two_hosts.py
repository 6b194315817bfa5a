"""Two hosts on a real network: two network namespaces joined by a veth pair, each with its own address (not
loopback), one train-eval process in each, then faults on that network. Needs root (it makes namespaces); every wait is
bounded. ``make network-test`` runs them."""

import os
import signal
import subprocess
import time
import uuid

import pytest

from galaxy_dl.errors import ExitStatus
from tests.cli.test_train_eval_distributed import (  # noqa: F401
    Process,
    assert_same_training,
    command,
    iris_model,
    one_process,
)
from tests.conftest import ROOT, build_model_zip

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]
ADDRESSES = ("10.77.0.1", "10.77.0.2")
PORT = 29611


def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def hosts():
    """Two namespaces, host0 (10.77.0.1) and host1 (10.77.0.2), joined by a veth pair (cluster/veth.sh); only their
    loopback and the pair are up. Yields (the command prefix of each, (namespace, link) of each)."""
    tag = uuid.uuid4().hex[:6]
    veth = ["bash", str(ROOT / "cluster" / "veth.sh")]
    try:
        made = subprocess.run([*veth, "up", tag, *ADDRESSES], capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        names = [f"gdl-{tag}-{i}" for i in range(2)]
        yield [["ip", "netns", "exec", name] for name in names], [(name, f"gdl{tag}v{i}") for i, name in enumerate(names)]
    finally:
        subprocess.run([*veth, "down", tag], capture_output=True, timeout=60)


def start(model, tmp_path, hosts, *extra):
    prefixes, _ = hosts
    return [
        Process(command(model, tmp_path / f"out{i}", "--backend", "jax", "--distribute", "--coordinator",
                        f"{ADDRESSES[0]}:{PORT}", "--num-processes", 2, "--process-id", i, *extra), prefixes[i])
        for i in range(2)
    ]


def test_two_hosts_train_as_one_process(iris_model, one_process, hosts, tmp_path):  # noqa: F811
    started = start(iris_model, tmp_path, hosts, "--peer-timeout", "60")
    try:
        codes = [p.finish(timeout=240) for p in started]
    finally:
        for p in started:
            p.kill()
    assert codes == [0, 0], [p.seen[-5:] for p in started]
    assert any("JAX DataParallel over 2 devices (2 processes x 1)" in line for line in started[0].seen)
    assert_same_training(tmp_path / "out0", one_process)
    assert os.listdir(tmp_path / "out1") == []


def cut_link(started, hosts):
    """The link goes down on host1's side (a veth pair loses its carrier on both)."""
    (name, link) = hosts[1][1]
    assert ip("netns", "exec", name, "ip", "link", "set", link, "down").returncode == 0


FAULTS = {  # what happens to the process on host1, and who survives it
    "killed": (lambda started, hosts: started[1].kill(), 1),
    "frozen": (lambda started, hosts: os.kill(started[1].popen.pid, signal.SIGSTOP), 1),
    "link cut": (cut_link, 2),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_lost_peer_ends_every_survivor_with_one_line_naming_it(fault, hosts, tmp_path):
    slow = build_model_zip(tmp_path, "4", ['Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                           "--loss", "sparse_categorical_crossentropy", "--epochs", "100000", "--batch-size", "8",
                           "--seed", "1")
    timeout = 10
    started = start(slow, tmp_path, hosts, "--peer-timeout", str(timeout))
    do, survivors = FAULTS[fault]
    try:
        started[0].wait_for("Epoch 3/")
        do(started, hosts)
        begun = time.monotonic()
        codes = [p.finish(timeout=timeout + 60) for p in started[:survivors]]
        took = time.monotonic() - begun
    finally:
        for p in started:
            p.kill()
    for i, (process, code) in enumerate(zip(started, codes, strict=False)):
        lost = 1 - i
        assert code == ExitStatus.PEER, process.seen[-5:]
        errors = [line for line in process.seen if "error" in line.lower() or "Check failed" in line]
        assert errors == [errors[0]] and errors[0].startswith(
            f"train-eval: error: lost contact with process {lost} of 2"
        ), process.seen[-5:]
        assert not any("abort" in line.lower() or "stack trace" in line.lower() for line in process.seen)
        assert os.listdir(tmp_path / f"out{i}") == []
    assert took < timeout + 10  # killed: at once (its connection closes); frozen or cut: the timeout, then exit
