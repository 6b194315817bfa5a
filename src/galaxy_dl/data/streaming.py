"""Feature matrices that need not fit in memory, and how Keras is fed from them.

A :class:`Rows` is a lazy view of some rows of a base matrix: a float32 row cache on disk
(:mod:`galaxy_dl.data.rowcache`) or a scipy CSR matrix (in memory, or over a CSR cache). Taking rows
(``X[idx]``, as the training schemes do) makes another view and copies nothing; only
:meth:`Rows.dense` densifies, a block of rows at a time.

Keras reads a view through a ``tf.data`` pipeline (:func:`dataset`): each epoch a seeded
permutation of the rows is cut into blocks of about :data:`BLOCK_BYTES`; one Python call gathers
a block (sorted reads from the cache) and tf.data slices it into batches in permutation order.
So epochs are truly shuffled, a batch holds the same rows as with a global permutation, and
Python runs once per block rather than once per batch.
"""

import os
import weakref

BLOCK_BYTES = 32 << 20
GATHER_ROWS = 2048
IN_MEMORY_FACTOR = 2  # reading a table in memory holds about twice its float32 size at the peak


def memory_budget(given_mb: int | None = None) -> int:
    """Bytes the feature matrix may take in memory: ``--memory-budget`` MB, else half of Galaxy's job
    memory ($GALAXY_MEMORY_MB), else half of the memory available now (within this cgroup's limit)."""
    if given_mb:
        return given_mb << 20
    galaxy = os.environ.get("GALAXY_MEMORY_MB", "")
    if galaxy.isdigit() and int(galaxy) > 0:
        return (int(galaxy) << 20) // 2
    return available_memory() // 2


def available_memory() -> int:
    """MemAvailable (free plus reclaimable page cache), or less if a cgroup (v2) limit leaves less."""
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/proc/meminfo") as fh:
            available = next(int(line.split()[1]) << 10 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, open("/sys/fs/cgroup/memory.current") as used:
            text = limit.read().strip()
            if text != "max":
                available = min(available, int(text) - int(used.read()))
    except (OSError, ValueError):
        pass
    return max(available, 0)


def should_stream(estimated_bytes: int, stream: bool | None, budget_mb: int | None) -> bool:
    """``--stream``/``--no-stream`` decide; otherwise stream when the data would not fit the budget."""
    if stream is not None:
        return stream
    return estimated_bytes * IN_MEMORY_FACTOR > memory_budget(budget_mb)


def index_dtype(n: int):
    """Row numbers of a matrix of ``n`` rows take 4 bytes each where they can: they are what grows with the rows."""
    import numpy as np

    return np.int32 if n < 2**31 else np.int64


def row_numbers(rows, n: int):
    """The row numbers that ``rows`` (a slice, an index array or a boolean mask) picks from ``n`` rows, compact."""
    import numpy as np

    dtype = index_dtype(n)
    if isinstance(rows, slice):
        return np.arange(*rows.indices(n), dtype=dtype)
    rows = np.asarray(rows)
    if rows.dtype == bool:
        return np.flatnonzero(rows).astype(dtype)
    rows = rows.astype(dtype, copy=False)
    return np.where(rows < 0, rows + n, rows).astype(dtype, copy=False) if rows.size and rows.min() < 0 else rows


class Rows:
    """A lazy view of rows ``index`` of ``base`` (a :class:`~galaxy_dl.data.rowcache.DenseCache`, a scipy
    CSR matrix, or anything with ``shape`` and row indexing); shaped and indexed like an array.

    A view of every row holds no index at all, and a view's row numbers take 4 bytes a row (int32 below
    2**31 rows): with the labels, they are all that grows with the rows."""

    def __init__(self, base, index=None):
        self.base = base
        self._index = None if index is None else row_numbers(index, base.shape[0])

    @property
    def index(self):
        """The base rows of the view, in order."""
        return row_numbers(slice(None), self.base.shape[0]) if self._index is None else self._index

    def _pick(self, rows):
        if (
            isinstance(rows, tuple) and len(rows) == 2 and rows[1] is Ellipsis
        ):  # array[key, ...], as scikit-learn indexes
            rows = rows[0]
        return row_numbers(rows, self.base.shape[0]) if self._index is None else self._index[rows]

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), int(self.base.shape[1]))

    @property
    def ndim(self) -> int:
        return 2

    @property
    def sparse(self) -> bool:
        return hasattr(self.base, "tocsr")

    def __len__(self) -> int:
        return int(self.base.shape[0]) if self._index is None else len(self._index)

    def __getitem__(self, rows) -> "Rows":
        return Rows(self.base, self._pick(rows))

    def dense(self, positions=None):
        """float32 array of the view's rows at ``positions`` (all by default), in that order.

        Rows are read in sorted runs of :data:`GATHER_ROWS` and a cache's pages are handed back after each
        run: random rows map whole pages (and the kernel maps their neighbours too), so one large gather
        would map most of a big cache at once.
        """
        import numpy as np

        wanted = self._pick(slice(None) if positions is None else positions)
        order = np.argsort(wanted, kind="stable")
        ascending = wanted[order]
        out = np.empty((len(wanted), self.shape[1]), dtype=np.float32)
        release = getattr(self.base, "release", None)
        for start in range(0, len(ascending), GATHER_ROWS):
            part = self.base[ascending[start : start + GATHER_ROWS]]
            out[order[start : start + GATHER_ROWS]] = part.toarray() if hasattr(part, "toarray") else part
            if release is not None:
                release()
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


def predict(model, X: Rows, to_inputs, batch_size: int):
    """``model.predict`` over the rows of ``X``, a block at a time, into arrays made once for every row: Keras
    gathers each batch's output in a list of small arrays before joining them, which for millions of rows held
    the predictions twice and left the heap fragmented."""
    import keras
    import numpy as np

    if len(X) == 0:
        return model.predict(to_inputs(X.dense()), batch_size=batch_size, verbose=0)
    out, structure, start = None, None, 0
    for block in X.blocks():
        result = model.predict(to_inputs(block), batch_size=batch_size, verbose=0)
        leaves = keras.tree.flatten(result)
        if out is None:
            structure = result
            out = [np.empty((len(X), *leaf.shape[1:]), dtype=leaf.dtype) for leaf in leaves]
        for target, leaf in zip(out, leaves, strict=True):
            target[start : start + len(leaf)] = leaf
        start += len(block)
    return keras.tree.pack_sequence_as(structure, out)


def feed(
    X: Rows, to_inputs, y=None, *, batch_size: int, shuffle: bool = False, seed=None, rows_per_epoch: int | None = None
):
    """Keras' ``x`` for the rows of ``X``, batch by batch: a tf.data pipeline on TensorFlow (:func:`dataset`),
    a ``keras.utils.PyDataset`` elsewhere (:func:`sequence`); the same batches either way.

    ``to_inputs`` shapes a dense block for the model, ``y`` is the encoded label array (or a list of them,
    one per output). Each epoch (when ``shuffle``) draws a seeded permutation of the rows, cut into blocks of
    about :data:`BLOCK_BYTES`, each read in one sorted pass and sliced into batches in permutation order.
    ``rows_per_epoch`` (a multiple of ``batch_size``) feeds only that many rows of each epoch's permutation:
    whole batches only, as a distributed run needs.
    """
    import keras

    make = dataset if keras.backend.backend() == "tensorflow" else sequence
    return make(Blocks(X, to_inputs, y, batch_size, shuffle, seed, rows_per_epoch))


class Blocks:
    """The rows of each epoch's permutation as ``pieces`` (start, stop, batch size) of whole batches."""

    def __init__(self, X, to_inputs, y, batch_size, shuffle, seed, rows_per_epoch):
        import numpy as np

        from galaxy_dl.runtime import return_large_buffers

        n = len(X)
        if n == 0:
            raise ValueError("no rows to feed")
        return_large_buffers()
        self.X, self.to_inputs, self.batch_size, self.shuffle = X, to_inputs, batch_size, shuffle
        self.labels = None if y is None else (tuple(y) if isinstance(y, list) else y)
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(n, dtype=index_dtype(n))
        per_block = block_rows(X.shape[1], batch_size)
        full = n // batch_size * batch_size if rows_per_epoch is None else min(rows_per_epoch, n)
        self.pieces = [(start, min(start + per_block, full), batch_size) for start in range(0, full, per_block)]
        if rows_per_epoch is None and full < n:
            self.pieces.append((full, n, n - full))  # the last, partial batch
        self.batches = -(-self.pieces[-1][1] // batch_size)

    def element(self, rows):
        """(inputs,) or (inputs, labels) for ``rows`` of X, as Keras reads them."""
        import keras

        inputs = self.to_inputs(self.X.dense(rows))
        inputs = tuple(inputs) if isinstance(inputs, list) else inputs
        if self.labels is None:
            return (inputs,)  # a 1-tuple: Keras reads it as x alone, even for several inputs
        return inputs, keras.tree.map_structure(lambda a: a[rows], self.labels)

    def load(self, piece: int):
        """The element of one piece's rows; a new epoch (piece 0) first draws a new permutation."""
        import numpy as np

        start, stop, _ = self.pieces[piece]
        if start == 0 and self.shuffle:  # permutation(n)'s draws, in the array the last epoch used
            np.copyto(self.order, np.arange(len(self.order), dtype=self.order.dtype))
            self.rng.shuffle(self.order)
        return self.element(self.order[start:stop])


def dataset(blocks: Blocks):
    """A ``tf.data.Dataset`` over ``blocks``: each block loaded by one ``tf.numpy_function`` call over a range of
    block numbers, then sliced by tf.data. ``from_generator`` (which ``PyDataset`` uses on TensorFlow too) made
    training 1.6-2x slower here, while this pipeline trains as fast as arrays in memory (bench/README.md,
    section 7)."""
    import keras
    import numpy as np
    import tensorflow as tf

    # The pipeline's functions reach the blocks through a weak reference held by the returned dataset:
    # TensorFlow keeps every numpy_function it registered, so a strong one would keep each view's
    # index arrays and each predicted chunk alive for the rest of the process.
    reach = weakref.ref(blocks)
    pieces = blocks.pieces

    def load(piece):
        size = pieces[int(piece)][2]
        values = keras.tree.flatten(reach().load(int(piece)))  # type: ignore[union-attr]  # alive while its dataset is
        return [a.reshape(len(a) // size, size, *a.shape[1:]) for a in values]  # whole batches for tf.data to slice

    structure = blocks.element(np.arange(1))
    leaves = keras.tree.flatten(structure)

    def batches(piece):
        flat = tf.numpy_function(load, [piece], [tf.as_dtype(a.dtype) for a in leaves])
        for tensor, a in zip(flat, leaves, strict=True):
            tensor.set_shape((None, None, *a.shape[1:]))
        return tf.data.Dataset.from_tensor_slices(keras.tree.pack_sequence_as(structure, flat))

    data = tf.data.Dataset.range(len(pieces)).flat_map(batches)
    data = data.apply(tf.data.experimental.assert_cardinality(blocks.batches)).prefetch(1)
    data._galaxy_dl_feed = blocks  # lives as long as the dataset Keras holds
    return data


def sequence(blocks: Blocks):
    """A ``keras.utils.PyDataset`` over ``blocks``, for JAX: there Keras turns each tf.data batch back into NumPy;
    section 4's fit took 1.04x the arrays' time fed by a PyDataset and 1.20x by a numpy_function pipeline
    (bench/README.md, section 8). Batches are asked for in order; the block that holds a batch is loaded once."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.piece, self.block = None, None
            self.first = [start // blocks.batch_size for start, _, _ in blocks.pieces]  # each piece's first batch

        def __len__(self):
            return blocks.batches

        def __getitem__(self, index):
            import bisect

            piece = bisect.bisect_right(self.first, index) - 1
            if piece != self.piece:
                self.piece, self.block = piece, blocks.load(piece)
            start = (index - self.first[piece]) * blocks.batch_size
            return keras.tree.map_structure(lambda a: a[start : start + blocks.batch_size], self.block)

        def on_epoch_end(self):
            self.piece = self.block = None  # the next epoch starts at piece 0: a new permutation

    return Batches()
