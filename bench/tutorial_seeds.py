"""The tutorial's test accuracy over seeds 0-9, through the same library code the programs run.

    python bench/tutorial_seeds.py [--normalization]

--normalization puts a Normalization() layer first (adapted on the training rows by train-eval).
"""

import json
import statistics
import sys
from pathlib import Path

from galaxy_dl import runtime

runtime.configure()
runtime.import_keras()

from galaxy_dl.data.tables import TableSpec, read_table, to_features, to_labels  # noqa: E402
from galaxy_dl.model.architecture import build_sequential, to_json  # noqa: E402
from galaxy_dl.model.estimator import make_estimator  # noqa: E402
from galaxy_dl.model.layerspec import parse_layer  # noqa: E402
from galaxy_dl.runs.training import TrainingData, run_scheme  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "test-data"
specs = ['Dense(16, activation="elu")', 'Dense(16, activation="elu")', 'Dense(1, activation="sigmoid")']
if "--normalization" in sys.argv:
    specs.insert(0, "Normalization()")
arch = json.loads(to_json(build_sequential((7129,), [parse_layer(s) for s in specs])))
train = TrainingData.read(TableSpec(str(DATA / "X_train.tsv")), TableSpec(str(DATA / "y_train.tsv")))
test_spec, y_spec = TableSpec(str(DATA / "X_test.tsv")), TableSpec(str(DATA / "y_test.tsv"))
X_test = to_features(read_table(test_spec, numeric=True), test_spec)[0]
y_test = to_labels(read_table(y_spec), y_spec).to_numpy()

accuracies = {}
for seed in range(10):
    estimator = make_estimator("classification", architecture=arch, loss="binary_crossentropy", optimizer="rmsprop",
                               epochs=10, batch_size=4, seed=seed, verbose=0)
    report = run_scheme(estimator, train)
    accuracies[seed] = float((report.estimator.predict(X_test) == y_test).mean())
    print(f"seed {seed}: test accuracy {accuracies[seed]:.4f}", flush=True)
print(f"mean {statistics.mean(accuracies.values()):.4f}, min {min(accuracies.values()):.4f}, max {max(accuracies.values()):.4f}")
