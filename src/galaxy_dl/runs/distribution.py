"""Data-parallel training over several devices and processes, on engines that exist: Keras 3's
``keras.distribution.DataParallel`` on JAX (one or many processes, joined by ``jax.distributed``)
and TensorFlow's ``MirroredStrategy`` (one process, several devices).

The estimator trains under the plan of :mod:`galaxy_dl.model.plans` (default :class:`Local`: nothing changes). A
distributed plan builds and fits the model in its scope; on JAX it also feeds each process its own
contiguous share of the training rows (``--batch-size`` is the global batch: every process takes an
equal part of it), reports validation scores from a process-local replica, and hands back a
process-local copy of the trained model, so that scoring, prediction and saving need no peer.

Multi-process runs must start together: process 0 first checks that the coordinator's port is free,
then every process meets the others (:func:`rendezvous`) within ``--peer-timeout`` seconds, before
JAX (whose own timeouts abort the process with a C++ stack trace) is started. The rendezvous connections then
carry a heartbeat (:mod:`galaxy_dl.runs.watchdog`) until training ends, so a peer that dies or hangs, or a network
that fails, ends the others with one line. After an error a multi-process run leaves at once (:func:`exit_now`):
JAX's shutdown would otherwise wait for the lost peer.
"""

import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from galaxy_dl.errors import DataError, PeerError, UsageError
from galaxy_dl.model.plans import Local

DEFAULT_PEER_TIMEOUT = 120
HANDSHAKE = b"galaxy-dl rendezvous 1\n"


@dataclass(frozen=True)
class Cluster:
    """Where a run trains, as the command line (or SLURM) says."""

    distribute: bool = False
    devices: int | None = None  # per process; None: every local accelerator
    coordinator: str | None = None  # HOST:PORT of process 0
    num_processes: int | None = None
    process_id: int | None = None
    peer_timeout: int = DEFAULT_PEER_TIMEOUT

    def __post_init__(self):
        given = [self.coordinator, self.num_processes, self.process_id]
        if any(v is not None for v in given) and None in given:
            raise UsageError("--coordinator, --num-processes and --process-id go together: give all three")
        if (
            self.num_processes is not None
            and self.process_id is not None
            and not 0 <= self.process_id < self.num_processes
        ):
            raise UsageError(
                f"--process-id {self.process_id} is out of range for --num-processes "
                f"{self.num_processes} (0 to {self.num_processes - 1})"
            )
        if self.coordinator is not None:
            host, _, port = self.coordinator.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise UsageError(f"--coordinator must be HOST:PORT, not {self.coordinator!r}")
        if (self.devices or self.num_processes) and not self.distribute:
            raise UsageError("--devices and --coordinator/--num-processes/--process-id need --distribute")

    @property
    def slurm(self) -> bool:
        """Started as one of several tasks of a SLURM step (``srun``): :meth:`under_slurm` names the peers."""
        tasks = os.environ.get("SLURM_STEP_NUM_TASKS", "1")  # a batch script has SLURM_NTASKS, not a step
        return self.distribute and self.coordinator is None and tasks.isdigit() and int(tasks) > 1

    def under_slurm(self) -> "Cluster":
        """The coordinator, process count and id JAX would take from the SLURM step, made explicit."""
        from jax._src.clusters import SlurmCluster

        tasks = os.environ["SLURM_STEP_NUM_TASKS"]
        return dataclasses.replace(
            self,
            coordinator=SlurmCluster.get_coordinator_address(timeout_secs=None, override_coordinator_port=None),
            num_processes=int(tasks),
            process_id=int(os.environ["SLURM_PROCID"]),
        )

    @property
    def multi_process(self) -> bool:
        return bool(self.num_processes and self.num_processes > 1) or self.slurm

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = (self.coordinator or "").rpartition(":")
        return host.strip("[]"), int(port)


def prepare(cluster: Cluster, backend: str) -> None:
    """What must be set before Keras is imported: JAX's count of host devices for --devices on a CPU."""
    if not cluster.distribute:
        return
    if cluster.multi_process and backend != "jax":
        raise UsageError(
            "training in several processes needs --backend jax: TensorFlow's multi-worker "
            "strategy fails under Keras 3 (keras-team/keras#20585)"
        )
    if backend == "jax" and cluster.devices:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:  # only the CPU platform reads it
            os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={cluster.devices}".strip()


_joined = False  # this process joined a multi-process run (jax.distributed)


def start(cluster: Cluster, backend: str, on_lost: Callable[[PeerError], None] | None = None):
    """Join the other processes (if any) and make the plan for this process's fits. ``on_lost`` is called, from
    another thread, when a peer is lost while the processes train together; it must end the process (by default:
    one line on stderr and exit 7). Train inside ``plans.using(plan)``, or call ``plan.finish()`` when done with
    the peers: until then a peer that leaves counts as lost."""
    if not cluster.distribute:
        return Local()
    if backend == "jax":
        return JaxPlan.start(cluster, on_lost)
    return MirroredPlan.start(cluster)


class _Distributed(Local):
    @property
    def accelerated(self) -> bool:
        """Training on GPUs or TPUs, not CPU devices."""
        return False

    def describe(self) -> str:
        raise NotImplementedError

    def note(self) -> str:
        """What process 0 says when training starts: the layout, and whether any accelerator takes part."""
        note = f"note: training data-parallel: {self.describe()}"
        if not self.accelerated:
            note += "; no GPU or TPU here: CPU devices only"
        return note

    def lost_peer(self, exc: BaseException):
        return lost_peer(exc) if peer_lost(exc) else None

    def replica(self, estimator, model):
        """A process-local copy of a trained model: plain variables on one device, same weights."""
        import keras

        weights = model.get_weights()  # on JAX every process takes part in fetching
        self.check_replicas(weights)
        slots = [keras.ops.convert_to_numpy(v.value) for v in model.optimizer.variables]
        with outside_distribution():
            local = estimator._rebuild()
            set_weights(local, weights)
            local.optimizer.build(local.trainable_variables)  # its state goes on: the weights file holds it
            for variable, value in zip(local.optimizer.variables, slots, strict=True):
                variable.assign(value)
        return local

    def check_replicas(self, weights) -> None:
        """Processes that trained together must hold the same weights."""


@dataclass
class MirroredPlan(_Distributed):
    """TensorFlow's MirroredStrategy over this machine's GPUs, or N logical CPU devices without one."""

    strategy: Any = None
    devices: tuple = ()

    @classmethod
    def start(cls, cluster: Cluster):
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            names = [f"/gpu:{i}" for i in range(len(gpus))][: cluster.devices or None]
        else:
            count = cluster.devices or 1
            cpu = tf.config.list_physical_devices("CPU")[0]
            with contextlib.suppress(RuntimeError):  # TensorFlow already started here (a notebook): keep its devices
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
            names = [d.name for d in tf.config.list_logical_devices("CPU")][:count]
            if len(names) < count:
                raise UsageError(
                    f"--devices {count}: TensorFlow was started in this process with {len(names)} CPU "
                    "device(s); run in a new process"
                )
        return cls(tf.distribute.MirroredStrategy(devices=names), tuple(names))

    def scope(self):
        return self.strategy.scope()

    def describe(self) -> str:
        return f"TensorFlow MirroredStrategy over {len(self.devices)} devices ({', '.join(self.devices)})"

    @property
    def accelerated(self) -> bool:
        return any("gpu" in name.lower() for name in self.devices)


@dataclass
class JaxPlan(_Distributed):
    """Keras' DataParallel over every process's devices; each process feeds its own rows."""

    distribution: Any = None
    process_id: int = 0
    num_processes: int = 1
    local_devices: int = 1
    watchdog: Any = None
    platform: str = "cpu"
    shards_data = True

    @classmethod
    def start(cls, cluster: Cluster, on_lost=None):
        import jax

        watchdog = join(cluster, on_lost) if cluster.multi_process else None  # before Keras touches JAX
        import keras

        local = jax.local_devices()[: cluster.devices or None]
        if cluster.devices and len(local) < cluster.devices:
            raise UsageError(f"--devices {cluster.devices}: this process has {len(jax.local_devices())}")
        chosen = {d.id for d in local}
        if jax.process_count() > 1:  # every process's first N devices, in process order
            per_process: dict[int, list] = {}
            for device in jax.devices():
                per_process.setdefault(device.process_index, []).append(device)
            devices = [d for p in sorted(per_process) for d in per_process[p][: len(local)]]
        else:
            devices = [d for d in jax.devices() if d.id in chosen]
        distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
        return cls(distribution, jax.process_index(), jax.process_count(), len(local), watchdog, local[0].platform)

    def scope(self):
        return self.distribution.scope()

    @property
    def accelerated(self) -> bool:
        return self.platform != "cpu"

    def lost_peer(self, exc: BaseException):
        lost = super().lost_peer(exc)
        if lost is not None and self.watchdog is not None:  # it can name the lost process (and then end this one)
            self.watchdog.thread.join(timeout=3 * self.watchdog.interval)
        return lost

    def finish(self) -> None:
        if self.watchdog is not None:
            self.watchdog.finish()
            self.watchdog = None

    def describe(self) -> str:
        devices = self.num_processes * self.local_devices
        return f"JAX DataParallel over {devices} device{'s' if devices > 1 else ''} ({self._layout()})"

    def _layout(self) -> str:
        return f"{self.num_processes} process{'es' if self.num_processes > 1 else ''} x {self.local_devices}"

    def prepare(self, estimator) -> None:
        """Every process gets process 0's seed (drawn when none was given: the replicas must start equal),
        and the global batch must split evenly over the devices."""
        self.check_batch(int(estimator.batch_size))
        if self.num_processes > 1 or estimator.seed is None:
            import numpy as np
            from jax.experimental import multihost_utils

            seed = estimator.seed if estimator.seed is not None else int(np.random.default_rng().integers(2**31))
            estimator.set_params(seed=int(multihost_utils.broadcast_one_to_all(np.asarray(seed, dtype=np.int64))))

    def check_replicas(self, weights) -> None:
        """Compare a digest of the weights across processes (a PeerError if they differ) and report it."""
        import hashlib
        import sys

        import numpy as np

        digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in weights)).hexdigest()
        if self.num_processes > 1:
            from jax.experimental import multihost_utils

            mine = np.frombuffer(bytes.fromhex(digest), dtype=np.uint8)
            digests = np.asarray(multihost_utils.process_allgather(mine))
            if not (digests == digests[0]).all():
                raise PeerError("the processes ended with different weights: their data or settings differ")
        print(f"note: process {self.process_id} of {self.num_processes}: weights sha256 {digest[:16]}", file=sys.stderr)

    def check_batch(self, batch_size: int) -> None:
        devices = self.num_processes * self.local_devices
        if batch_size % devices:
            raise UsageError(
                f"--batch-size {batch_size} must be a multiple of the {devices} devices it is split over "
                f"({self._layout()}); it is the global batch"
            )

    def feed(self, estimator, model, X, y, validation) -> dict:
        """Keras' fit arguments: this process's share of the rows, fed as its part of each global batch (an epoch
        is as many whole global batches as the smallest share holds), and validation scored on a local replica at
        the end of every epoch."""
        import keras
        import numpy as np

        from galaxy_dl.data import streaming

        batch = int(estimator.batch_size)
        self.check_batch(batch)
        part = batch // self.num_processes
        bounds = np.linspace(0, len(X), self.num_processes + 1).astype(int)
        smallest = int(np.diff(bounds).min())
        steps = smallest // part
        if steps == 0:
            raise DataError(
                f"{len(X)} training rows leave the smallest of the {self.num_processes} processes' shares "
                f"{smallest} rows, fewer than its part ({part}) of a --batch-size {batch} batch: "
                "lower --batch-size or use fewer processes"
            )
        rows = np.arange(bounds[self.process_id], bounds[self.process_id + 1])
        share = X[rows] if streaming.is_lazy(X) else streaming.Rows(X, rows)
        labels = keras.tree.map_structure(lambda a: a[rows], y)
        seed = None if estimator.seed is None else [int(estimator.seed), self.process_id]
        data = streaming.feed(
            share,
            lambda block: estimator._inputs(block, model),
            labels,
            batch_size=part,
            shuffle=bool(estimator.shuffle),
            seed=seed,
            rows_per_epoch=steps * part,
        )
        feed = {"x": data, "shuffle": False}
        if self.process_id:  # process 0 reports the epochs; the others would repeat its lines
            feed["verbose"] = 0
        if validation is not None:
            feed["callbacks"] = [replica_validation(estimator, validation)]
        return feed


def replica_validation(estimator, validation):
    """A callback that adds val_* scores at each epoch's end, from a process-local copy of the model (every
    process holds the whole validation set): a sharded evaluation would need every batch split evenly over
    the devices."""
    import keras

    class ReplicaValidation(keras.callbacks.Callback):
        local = None

        def on_epoch_end(self, epoch, logs=None):
            weights = self.model.get_weights()
            with outside_distribution():
                if self.local is None:
                    self.local = estimator._rebuild()
                set_weights(self.local, weights)
                X, y = validation
                feed = estimator._feed(X, y, self.local, batch_size=int(estimator.batch_size))
                scores = self.local.evaluate(**feed, verbose=0, return_dict=True)
            if logs is not None:
                logs.update({f"val_{name}": value for name, value in scores.items()})

    return ReplicaValidation()


def set_weights(model, weights) -> None:
    """``model.set_weights`` plus what loading a weights file also does: layers with state derived from
    their weights (an adapted Normalization's mean and variance) recompute it."""
    model.set_weights(weights)
    pending = list(model.layers)
    while pending:
        layer = pending.pop()
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
        pending.extend(getattr(layer, "layers", ()))


@contextlib.contextmanager
def outside_distribution():
    """Build and run process-local models: no global distribution while inside."""
    import keras

    saved = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(saved)


def join(cluster: Cluster, on_lost=None):
    """Meet the peers, watch them (:mod:`galaxy_dl.runs.watchdog`), then start jax.distributed. Under SLURM the
    coordinator and process ids are the ones JAX would take from the step. Returns the watchdog."""
    import jax

    from galaxy_dl.runs.watchdog import Watchdog

    if cluster.slurm:
        cluster = cluster.under_slurm()
    timeout = int(cluster.peer_timeout)
    links = rendezvous(cluster)
    watchdog = Watchdog(links, int(cluster.process_id or 0), int(cluster.num_processes or 1), timeout, on_lost)
    watchdog.start()
    host, port = cluster.address
    jax.distributed.initialize(
        coordinator_address=cluster.coordinator,
        num_processes=cluster.num_processes,
        process_id=cluster.process_id,
        initialization_timeout=timeout,
        heartbeat_timeout_seconds=2 * timeout + 10,  # ours notices first, and says which process
        coordinator_bind_address=f"{host}:{port}" if _is_ip(host) else None,
    )
    _gloo_on_the_route_to_the_coordinator()
    global _joined
    _joined = True
    return watchdog


def _gloo_on_the_route_to_the_coordinator() -> None:
    """Make Gloo advertise the address this process reaches the coordinator from.

    Gloo's TCP transport (JAX's CPU collectives across processes) advertises the address its host name resolves to,
    which is 127.0.0.1 on many machines (containers, cloud images): each peer then dials its own loopback and the
    run fails ("Connection refused"). JAX does not pass Gloo an address, so the CPU backend is registered again,
    before it is first made, with collectives bound to the address on the route to the coordinator. Runs whose
    peers meet on loopback are left as JAX makes them.
    """
    from jax._src import config, distributed, xla_bridge
    from jax._src.lib import _jax

    coordinator = distributed.global_state.coordinator_address or ""
    host, _, port = coordinator.rpartition(":")
    local = _route_address(host.strip("[]"), int(port)) if port.isdigit() else None
    if local is None or local.startswith("127.") or local == "::1":
        return
    if config.cpu_collectives_implementation.value != "gloo":
        return
    collectives = _jax.make_gloo_tcp_collectives(distributed_client=distributed.global_state.client, hostname=local)
    xla_bridge.register_backend_factory(
        "cpu", lambda: xla_bridge.make_cpu_client(collectives=collectives), priority=0, fail_quietly=False
    )


def _route_address(host: str, port: int) -> str | None:
    """This machine's address on the route to ``host`` (a connected UDP socket's own end: no packet is sent)."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(address)
            return str(probe.getsockname()[0])
    except OSError:
        return None


def exit_now() -> bool:
    """True in a joined multi-process run: leave with os._exit after an error, not through JAX's shutdown."""
    return _joined


def _is_ip(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
        return True
    except socket.gaierror:
        return False


def rendezvous(cluster: Cluster) -> dict[int, socket.socket]:
    """Every process checks in with process 0 on the coordinator's port before JAX starts, within
    ``peer_timeout`` seconds; a busy port, a missing peer or a duplicated process id is a PeerError. Returns the
    open connections (process 0: one per peer; the others: the one to process 0), for the watchdog."""
    host, port = cluster.address
    deadline = time.monotonic() + cluster.peer_timeout
    n, me = cluster.num_processes or 1, cluster.process_id
    where = f"--coordinator {cluster.coordinator}"
    if me == 0:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:  # a host name: every interface, as JAX's coordinator (the name may be 127.0.1.1 on its own host)
                server.bind((host if _is_ip(host) else "", port))
            except OSError as exc:
                raise PeerError(f"{where}: cannot listen there: {exc.strerror or exc}") from None
            server.listen(n)
            peers: dict[int, socket.socket] = {}
            while len(peers) < n - 1:
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sorted(set(range(1, n)) - set(peers))
                    raise PeerError(
                        f"process{'es' if len(missing) > 1 else ''} {', '.join(map(str, missing))} of {n} "
                        f"did not reach {where} within --peer-timeout {cluster.peer_timeout} s"
                    )
                server.settimeout(left)
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                conn.settimeout(max(1.0, deadline - time.monotonic()))
                try:
                    hello = conn.recv(256)
                except OSError:
                    conn.close()
                    continue
                peer = _parse_hello(hello, n)
                if peer is None or peer in peers:
                    conn.sendall(b"refused\n")
                    conn.close()
                    continue
                peers[peer] = conn
            for accepted in peers.values():
                accepted.sendall(b"go\n")
        return peers  # the listening socket closes here: JAX's coordinator takes the port
    while True:
        link: socket.socket | None = None
        try:
            link = socket.create_connection((host, port), timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            link.sendall(HANDSHAKE + f"{me} {n}\n".encode())
            link.settimeout(max(1.0, deadline - time.monotonic()))
            answer = _line(link)  # no further: the watchdog's beats may follow at once
            if answer == b"go":
                return {0: link}
            link.close()
            if answer == b"refused":
                raise PeerError(
                    f"{where} refused process {me} of {n}: another process has that id, "
                    "or the processes disagree on --num-processes"
                )
        except OSError:  # not listening yet, or reset: try again until the deadline
            if link is not None:
                link.close()
        if time.monotonic() >= deadline:
            raise PeerError(
                f"process 0 of {n} did not answer at {where} within --peer-timeout {cluster.peer_timeout} s"
            )
        time.sleep(0.2)


def _line(conn: socket.socket) -> bytes:
    """One line from ``conn``, read a byte at a time so that nothing after it is consumed."""
    line = b""
    while (byte := conn.recv(1)) not in (b"\n", b""):
        line += byte
    return line


def _parse_hello(hello: bytes, n: int) -> int | None:
    if not hello.startswith(HANDSHAKE):
        return None
    try:
        peer, count = (int(v) for v in hello[len(HANDSHAKE) :].split())
    except ValueError:
        return None
    return peer if count == n and 0 < peer < n else None


def peer_lost(exc: BaseException) -> bool:
    """An error that means a peer died or the collectives broke (Gloo, the coordination service)."""
    text = str(exc)
    return (
        _joined
        and not isinstance(exc, PeerError)
        and any(s in text for s in ("Gloo", "UNAVAILABLE", "coordination", "DEADLINE_EXCEEDED"))
    )


def lost_peer(exc: BaseException) -> PeerError:
    first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return PeerError(f"lost contact with another process (it died or hung): {first}")
