"""The distribution plan's checks and the rendezvous that starts a multi-process run (sockets on 127.0.0.1)."""

import socket
import threading
import time

import pytest

from galaxy_dl.errors import PeerError, UsageError
from galaxy_dl.runs import distribution, launcher
from galaxy_dl.runs.distribution import Cluster, rendezvous
from galaxy_dl.runs.launcher import free_port


@pytest.mark.parametrize("kwargs, message", [
    ({"distribute": True, "coordinator": "127.0.0.1:5000", "num_processes": 2, "process_id": 5},
     "--process-id 5 is out of range for --num-processes 2 (0 to 1)"),
    ({"distribute": True, "num_processes": 2, "process_id": 0}, "go together: give all three"),
    ({"distribute": True, "coordinator": "localhost", "num_processes": 2, "process_id": 0}, "must be HOST:PORT, not 'localhost'"),
    ({"devices": 2}, "need --distribute"),
])
def test_bad_cluster_options_are_named(kwargs, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Cluster(**kwargs)


def test_several_processes_need_jax():
    cluster = Cluster(distribute=True, coordinator="127.0.0.1:5000", num_processes=2, process_id=0)
    with pytest.raises(UsageError, match="needs --backend jax"):
        distribution.prepare(cluster, "tensorflow")


def test_srun_tasks_make_a_multi_process_run_but_a_batch_script_does_not(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_NTASKS", "4")  # a batch script of 4 tasks: one process, until srun starts them
    assert not Cluster(distribute=True).multi_process
    assert launcher.slurm_batch_tasks() == 4
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")  # a task of srun's step
    assert Cluster(distribute=True).multi_process
    assert not Cluster(distribute=False).multi_process
    assert launcher.slurm_batch_tasks() == 1


def cluster(port, me, n=3, timeout=10):
    return Cluster(distribute=True, coordinator=f"127.0.0.1:{port}", num_processes=n, process_id=me, peer_timeout=timeout)


def meet(port, ids, n=3, timeout=10):
    """Run the rendezvous of processes ``ids`` in threads; returns [(id, None or the error)] in ``ids`` order."""
    outcome = [None] * len(ids)

    def one(slot, me):
        try:
            rendezvous(cluster(port, me, n, timeout))
            outcome[slot] = (me, None)
        except PeerError as exc:
            outcome[slot] = (me, str(exc))

    threads = [threading.Thread(target=one, args=(slot, me)) for slot, me in enumerate(ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout + 10)
    assert not any(t.is_alive() for t in threads), "a rendezvous did not end"
    return outcome


def test_every_process_meets_process_0():
    assert meet(free_port(), [1, 2, 0]) == [(1, None), (2, None), (0, None)]


def test_a_peer_that_never_starts_ends_the_wait_in_time():
    port = free_port()
    started = time.monotonic()
    outcome = meet(port, [0, 1], timeout=2)
    assert outcome[0] == (0, f"process 2 of 3 did not reach --coordinator 127.0.0.1:{port} within --peer-timeout 2 s")
    assert time.monotonic() - started < 8


def test_a_peer_without_a_coordinator_gives_up_in_time():
    port = free_port()
    assert meet(port, [1], timeout=2) == [(1, f"process 0 of 3 did not answer at --coordinator 127.0.0.1:{port} "
                                             "within --peer-timeout 2 s")]


def test_a_busy_coordinator_port_is_an_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PeerError, match=f"--coordinator 127.0.0.1:{port}: cannot listen there: Address already in use"):
            rendezvous(cluster(port, 0, timeout=2))


def test_two_processes_with_one_id_are_refused():
    errors = [error for _, error in meet(free_port(), [0, 1, 1], timeout=3)]
    assert any(error and "refused process 1 of 3: another process has that id" in error for error in errors)
    assert errors[0] and "process 2 of 3 did not reach" in errors[0]  # and process 0 still waits for process 2
