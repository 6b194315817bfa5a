"""Training throughput on DNA: galaxy-dl's FASTA path (one-byte codes, one-hot a block at a time) vs plain Keras on
the same sequences one-hot encoded in memory as float32 (the baseline the issue names); same model, rows, epochs.

python bench/seq_fit.py FASTA LABELS ours|arrays: prints one JSON line (fit seconds, sequences, epochs).
"""

import json
import sys
import time

FASTA, LABELS, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
EPOCHS, BATCH = 1, 256

import pandas as pd  # noqa: E402

from galaxy_dl import runtime  # noqa: E402

runtime.configure()
runtime.import_keras()
import keras  # noqa: E402

from galaxy_dl.data import fasta  # noqa: E402
from galaxy_dl.data.features import Streaming  # noqa: E402
from galaxy_dl.data.seqcoding import Encoding  # noqa: E402
from galaxy_dl.data.streaming import Rows  # noqa: E402
from galaxy_dl.model.architecture import build_sequential, to_json  # noqa: E402
from galaxy_dl.model.estimator import make_estimator  # noqa: E402
from galaxy_dl.model.layerspec import parse_layer  # noqa: E402

LAYERS = ['Conv1D(16, 12, activation="relu")', "GlobalMaxPooling1D()", 'Dense(1, activation="sigmoid")']
y = (pd.read_csv(LABELS, sep="\t")["label"].to_numpy() == "yes").astype("int64")
sequences = fasta.read(FASTA, FASTA, Encoding(alphabet="dna"), Streaming(stream=False))
X = Rows(sequences.rows)
arch = json.loads(to_json(build_sequential(sequences.rows.encoding.input_shape, [parse_layer(t) for t in LAYERS])))
if MODE == "ours":
    est = make_estimator("classification", architecture=arch, optimizer="adam", epochs=EPOCHS, batch_size=BATCH,
                         seed=0, verbose=0)
    start = time.perf_counter()
    est.fit(X, y)
else:
    arrays = X.dense().reshape(len(X), *sequences.rows.encoding.input_shape)  # float32 one-hot, every sequence
    keras.utils.set_random_seed(0)
    model = keras.models.model_from_json(json.dumps(arch))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    start = time.perf_counter()
    model.fit(arrays, y.astype("float32"), batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0)
print(json.dumps({"fit_seconds": time.perf_counter() - start, "rows": len(y), "epochs": EPOCHS}))
