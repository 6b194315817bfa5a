"""The cost of one all-reduce over every device, as each data-parallel training step does for its gradients.

As a program: one of two processes (``allreduce.py COORDINATOR:PORT PROCESS_ID PARAMS...``) joins galaxy-dl's
distribution plan and times an all-reduce of each size; process 0 prints JSON {params: seconds}."""

import json
import os
import sys
import time


def allreduce_seconds(params: int, repeats: int = 50) -> float:
    """The mean time of ``repeats`` all-reduces of a float32 vector of ``params`` values (after one warm-up)."""
    import jax
    import numpy as np

    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("batch",))
    local = np.ones((1, params), dtype=np.float32)
    sharded = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    parts = jax.make_array_from_process_local_data(sharded, local)
    whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    reduce = jax.jit(lambda a: a.sum(axis=0), out_shardings=whole)
    reduce(parts).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        reduce(parts).block_until_ready()
    return (time.perf_counter() - start) / repeats


if __name__ == "__main__":
    os.environ["KERAS_BACKEND"] = "jax"
    from galaxy_dl import runtime
    from galaxy_dl.runs import distribution

    coordinator, me, sizes = sys.argv[1], int(sys.argv[2]), [int(v) for v in sys.argv[3:]]
    runtime.configure(1)
    cluster = distribution.Cluster(distribute=True, coordinator=coordinator, num_processes=2, process_id=me,
                                   peer_timeout=120)
    plan = distribution.start(cluster, "jax")
    times = {size: allreduce_seconds(size, repeats=max(5, min(50, 20_000_000 // size))) for size in sizes}
    plan.finish()
    if me == 0:
        print(json.dumps(times))
