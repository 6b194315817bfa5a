"""Two hosts on a real network: two network namespaces joined by a veth pair, each with its own address (not
loopback), one train-eval process in each. Needs root (it makes namespaces); every wait is bounded."""

import os
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
from tests.conftest import build_model_zip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]
ADDRESSES = ("10.77.0.1", "10.77.0.2")
PORT = 29611


def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def hosts():
    """Two namespaces, host0 (10.77.0.1) and host1 (10.77.0.2), joined by a veth pair; only their loopback and
    the pair are up. Yields (the command prefix of each, the name of each end of the link)."""
    tag = uuid.uuid4().hex[:6]
    names = [f"gdl-{tag}-{i}" for i in range(2)]
    links = [f"gdl{tag}v{i}" for i in range(2)]
    try:
        for name in names:
            assert ip("netns", "add", name).returncode == 0
        assert ip("link", "add", links[0], "type", "veth", "peer", "name", links[1]).returncode == 0
        for name, link, address in zip(names, links, ADDRESSES, strict=True):
            assert ip("link", "set", link, "netns", name).returncode == 0
            for args in (("addr", "add", f"{address}/24", "dev", link), ("link", "set", link, "up"),
                         ("link", "set", "lo", "up")):
                assert ip("netns", "exec", name, "ip", *args).returncode == 0
        yield [["ip", "netns", "exec", name] for name in names], list(zip(names, links, strict=True))
    finally:
        for name in names:
            ip("netns", "delete", name)


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


def test_a_peer_killed_on_the_other_host_ends_the_coordinator_with_one_line(hosts, tmp_path):
    slow = build_model_zip(tmp_path, "4", ['Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                           "--loss", "sparse_categorical_crossentropy", "--epochs", "100000", "--batch-size", "8",
                           "--seed", "1")
    started = start(slow, tmp_path, hosts, "--peer-timeout", "20")
    try:
        started[0].wait_for("Epoch 3/")
        started[1].kill()
        begun = time.monotonic()
        code = started[0].finish(timeout=120)
    finally:
        for p in started:
            p.kill()
    assert code == ExitStatus.PEER, started[0].seen[-5:]
    assert time.monotonic() - begun < 20 + 10
    errors = [line for line in started[0].seen if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("train-eval: error: lost contact with another process")
    assert os.listdir(tmp_path / "out0") == []
