"""The fits of section 9's search in a plain scikit-learn GridSearchCV loop: the same estimator, grid, folds
and seed as ``train-eval --search grid``, without the program around it (reading, scores, outputs)."""

import json
import sys
import time

start = time.perf_counter()
WORK, MODEL, TABLE = sys.argv[1:4]
GRID = json.loads(sys.argv[4])
SAME_SCORES = sys.argv[5:] == ["--same-scores"]  # also Keras' loss per fold, as train-eval's table has it

from galaxy_dl import runtime  # noqa: E402

runtime.configure()
runtime.import_keras()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

from galaxy_dl.model.archive import load  # noqa: E402

frame = pd.read_csv(TABLE, sep="\t")
y = frame.pop("label").to_numpy()
X = frame.to_numpy(np.float32)
estimator = load(MODEL)
scoring = {"loss": lambda est, X, y: est.evaluate(X, y)["loss"], "accuracy": "accuracy"} if SAME_SCORES else "accuracy"
search = GridSearchCV(estimator, GRID, scoring=scoring, cv=StratifiedKFold(3, shuffle=True, random_state=estimator.seed),
                      refit="accuracy" if SAME_SCORES else True)
fit_start = time.perf_counter()
search.fit(X, y)
print(json.dumps({"settings": len(search.cv_results_["params"]), "fit_seconds": time.perf_counter() - fit_start,
                  "best": search.best_params_, "wall_seconds": time.perf_counter() - start}))
