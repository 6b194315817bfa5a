"""Feature matrices that need not fit in memory, and how Keras is fed from them.

A :class:`Rows` is a lazy view of some rows of a base matrix: a float32 row cache on disk
(:mod:`galaxy_dl.rowcache`) or a scipy CSR matrix (in memory, or over a CSR cache). Taking rows
(``X[idx]``, as the training schemes do) makes another view and copies nothing; only
:meth:`Rows.dense` densifies, a block of rows at a time.

Keras reads a view through a ``tf.data`` pipeline (:func:`dataset`): each epoch a seeded
permutation of the rows is cut into blocks of about :data:`BLOCK_BYTES`; one Python call gathers
a block (sorted reads from the cache) and tf.data slices it into batches in permutation order.
So epochs are truly shuffled, a batch holds the same rows as with a global permutation, and
Python runs once per block rather than once per batch (a generator or ``PyDataset`` per batch
cost 40-70% of the in-memory throughput here; see bench/README.md).
"""

import os

BLOCK_BYTES = 32 << 20
IN_MEMORY_FACTOR = 2  # reading a table in memory holds about twice its float32 size at the peak


def memory_budget(given_mb: int | None = None) -> int:
    """Bytes the feature matrix may take in memory: ``--memory-budget`` MB, else half of Galaxy's job
    memory ($GALAXY_MEMORY_MB), else half of the RAM available now."""
    if given_mb:
        return given_mb << 20
    galaxy = os.environ.get("GALAXY_MEMORY_MB", "")
    if galaxy.isdigit() and int(galaxy) > 0:
        return (int(galaxy) << 20) // 2
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        available = 8 << 30
    return available // 2


def should_stream(estimated_bytes: int, stream: bool | None, budget_mb: int | None) -> bool:
    """``--stream``/``--no-stream`` decide; otherwise stream when the data would not fit the budget."""
    if stream is not None:
        return stream
    return estimated_bytes * IN_MEMORY_FACTOR > memory_budget(budget_mb)


class Rows:
    """A lazy view of rows ``index`` of ``base`` (a :class:`~galaxy_dl.rowcache.DenseCache`, a scipy
    CSR matrix, or anything with ``shape`` and row indexing); shaped and indexed like an array."""

    def __init__(self, base, index=None):
        import numpy as np

        self.base = base
        self.index = np.arange(base.shape[0]) if index is None else np.asarray(index)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), int(self.base.shape[1]))

    @property
    def ndim(self) -> int:
        return 2

    @property
    def sparse(self) -> bool:
        return hasattr(self.base, "tocsr")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, rows) -> "Rows":
        return Rows(self.base, self.index[rows])

    def dense(self, positions=None):
        """float32 array of the view's rows at ``positions`` (all by default), in that order."""
        import numpy as np

        wanted = self.index if positions is None else self.index[positions]
        order = np.argsort(wanted, kind="stable")
        block = self.base[wanted[order]]  # sorted reads: sequential on disk, cheap for CSR
        block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
        out = np.empty((len(wanted), block.shape[1]), dtype=np.float32)
        out[order] = block
        if hasattr(self.base, "release"):
            self.base.release()
        return out

    def blocks(self, rows_per_block: int | None = None):
        """The view in order, as dense float32 blocks (for prediction and adapting statistics)."""
        step = rows_per_block or block_rows(self.shape[1])
        for start in range(0, len(self), step):
            yield self.dense(slice(start, start + step))


def is_lazy(X) -> bool:
    return isinstance(X, Rows)


def block_rows(n_columns: int, batch_size: int = 1) -> int:
    """Rows per block: about BLOCK_BYTES dense, a whole number of batches, at least one batch."""
    rows = max(1, BLOCK_BYTES // (4 * max(1, n_columns)))
    return max(batch_size, rows // batch_size * batch_size)


def dataset(X: Rows, to_inputs, y=None, *, batch_size: int, shuffle: bool = False, seed: int | None = None):
    """A ``tf.data.Dataset`` of (inputs[, y]) batches of ``X``; ``to_inputs`` shapes a dense block for the
    model, ``y`` is the encoded label array (or a list of them, one per output)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    per_block = block_rows(X.shape[1], batch_size)
    n = len(X)
    labels = None if y is None else (tuple(y) if isinstance(y, list) else y)

    def element(rows, dense):
        inputs = to_inputs(dense)
        inputs = tuple(inputs) if isinstance(inputs, list) else inputs
        if labels is None:
            return (inputs,)  # a 1-tuple: Keras reads it as x alone, even for several inputs
        return inputs, tf.nest.map_structure(lambda a: a[rows], labels)

    def blocks():
        order = rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, per_block):
            rows = order[start:start + per_block]
            yield element(rows, X.dense(rows))

    if n == 0:
        raise ValueError("no rows to feed")
    sample = element(np.arange(1), X.dense(np.arange(1)))
    signature = tf.nest.map_structure(lambda a: tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)), sample)
    data = tf.data.Dataset.from_generator(blocks, output_signature=signature)
    data = data.flat_map(lambda *block: tf.data.Dataset.from_tensor_slices(block).batch(batch_size))
    steps = sum(-(-min(per_block, n - s) // batch_size) for s in range(0, n, per_block))
    data = data.apply(tf.data.experimental.assert_cardinality(steps))
    return data.prefetch(1)
