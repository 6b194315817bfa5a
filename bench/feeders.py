"""Why streaming feeds Keras through tf.numpy_function: the same fit fed four ways (one JSON line).

python bench/feeders.py WORK arrays|from_generator|pydataset|numpy_function
160,000 x 100 rows already in memory, so only the feeding differs; batches of 256, 2 epochs, section 4's model.
"""

import json
import resource
import sys
import time

WORK, MODE = sys.argv[1], sys.argv[2]

import numpy as np  # noqa: E402

from galaxy_dl import runtime  # noqa: E402

runtime.configure()
keras = runtime.import_keras()
import tensorflow as tf  # noqa: E402

BATCH, BLOCK = 256, 327  # batches per Python call: section 7's 32 MB blocks of 100 float32 columns
X = np.load(f"{WORK}/big_X.npy")[:160_000]
y = np.load(f"{WORK}/big_y.npy")[:160_000].astype("float32")
n = len(X) // BATCH * BATCH
starts = list(range(0, n, BATCH * BLOCK))


def block(i):
    start = starts[int(i)]
    stop = min(n, start + BATCH * BLOCK)
    return X[start:stop].reshape(-1, BATCH, X.shape[1]), y[start:stop].reshape(-1, BATCH)


if MODE == "arrays":
    data = {"x": X[:n], "y": y[:n], "batch_size": BATCH}
elif MODE == "from_generator":
    signature = (tf.TensorSpec((None, BATCH, X.shape[1])), tf.TensorSpec((None, BATCH)))
    gen = tf.data.Dataset.from_generator(lambda: (block(i) for i in range(len(starts))), output_signature=signature)
    data = {"x": gen.flat_map(lambda a, b: tf.data.Dataset.from_tensor_slices((a, b)))}
elif MODE == "pydataset":
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return n // BATCH

        def __getitem__(self, i):
            return X[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]

    data = {"x": Batches()}
else:
    def load(i):
        a, b = tf.numpy_function(block, [i], (tf.float32, tf.float32))
        a.set_shape((None, BATCH, X.shape[1]))
        b.set_shape((None, BATCH))
        return tf.data.Dataset.from_tensor_slices((a, b))

    data = {"x": tf.data.Dataset.range(len(starts)).flat_map(load)}
keras.utils.set_random_seed(1)
model = keras.Sequential([keras.Input((X.shape[1],))] + [keras.layers.Dense(256, activation="relu") for _ in range(3)]
                         + [keras.layers.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy")
before = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
model.fit(**data, epochs=2, verbose=0)
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"fit_seconds": time.perf_counter() - start, "system_seconds": after.ru_stime - before.ru_stime}))
