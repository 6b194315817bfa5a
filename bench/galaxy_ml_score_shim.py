"""Run one of Galaxy-ML's tool scripts with sklearn's `_score` given the argument it gained in scikit-learn 1.4.

galaxytools' keras_train_and_eval.py (commit 7caf8e53) calls `_score(estimator, X, y, scorer)` as scikit-learn < 1.4
did; galaxy-ml 0.11.0, the release on PyPI, pins scikit-learn 1.9.1, where `score_params` is required, so the script
fails after training. bench/gtn_steps.py runs it through this file: the old call, adapted (a dict of scorers
becomes the multimetric scorer that sklearn now expects, and no score parameters).

    python galaxy_ml_score_shim.py SCRIPT ARGS...
"""

import runpy
import sys

import sklearn.model_selection._validation as validation
from sklearn.metrics._scorer import _MultimetricScorer

_score = validation._score


def _old_score(estimator, X, y, scorer, score_params=None, **kw):
    """The < 1.4 call: a dict of scorers, no score_params."""
    if isinstance(scorer, dict):
        scorer = _MultimetricScorer(scorers=scorer, raise_exc=True)
    return _score(estimator, X, y, scorer, score_params or {}, **kw)


validation._score = _old_score
script = sys.argv.pop(1)
sys.argv[0] = script
runpy.run_path(script, run_name="__main__")
