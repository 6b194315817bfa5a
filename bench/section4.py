"""Section 4's data and model, shared by the scripts that time its fit (ours_fit, dist_fit)."""

import json
import os


def data(work):
    """(X_train, X_validation, y_train, y_validation): the 200,000-row table split 80/20, stratified, seed 42."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    X = np.load(os.path.join(work, "big_X.npy"))
    y = np.load(os.path.join(work, "big_y.npy"))
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)


def estimator(n_columns: int):
    """Three Dense(256) and a sigmoid output, Adam, 2 epochs of batch 256, seed 42."""
    from galaxy_dl.model.architecture import build_sequential, to_json
    from galaxy_dl.model.estimator import make_estimator
    from galaxy_dl.model.layerspec import parse_layer

    layers = [parse_layer('Dense(256, activation="relu")')] * 3 + [parse_layer('Dense(1, activation="sigmoid")')]
    arch = json.loads(to_json(build_sequential((n_columns,), layers)))
    return make_estimator("classification", architecture=arch, optimizer="adam", epochs=2, batch_size=256, seed=42, verbose=0)
