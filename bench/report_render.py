"""Time galaxy_dl.report.render in one process on the tutorial: the report's own cost without process noise.

    python bench/report_render.py DATA_DIR MODEL_ZIP   -> JSON: seconds per format, first (cold) and warm
"""

import json
import sys
import time
from pathlib import Path

from galaxy_dl import archive, runtime
from galaxy_dl.report import Run, render
from galaxy_dl.tables import TableSpec
from galaxy_dl.training import TrainingData, run_scheme

data_dir, model = Path(sys.argv[1]), sys.argv[2]
runtime.import_keras()
data = TrainingData.read(TableSpec(str(data_dir / "X_train.tsv")), TableSpec(str(data_dir / "y_train.tsv")))
estimator = archive.load(model, "--model").set_params(verbose=0)
report = run_scheme(estimator, data)
out = {}
for name, formats in (("cold, html and pdf (imports matplotlib)", ["html", "pdf"]), ("html", ["html"]),
                      ("pdf", ["pdf"]), ("html and pdf", ["html", "pdf"])):
    times = []
    for _ in range(1 if name.startswith("cold") else 5):
        start = time.perf_counter()
        render(report, data, estimator, Run(), formats)
        times.append(time.perf_counter() - start)
    out[name] = sorted(times)[len(times) // 2]
print(json.dumps(out))
