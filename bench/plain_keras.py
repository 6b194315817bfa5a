"""Baselines for bench/run.py: the same work as each galaxy-dl step, written as plain Keras/pandas/sklearn.

    python plain_keras.py STEP WORKDIR DATADIR

STEP is build_arch, build_model, train_eval, predict, plot_cm, or tutorial (all five in one process),
or fit_only / import_only. Each prints its own timings as JSON on the last line.

With PLAIN_GC_PAUSED=1 the script handles the garbage collector as galaxy-dl's programs do
(paused through the imports, then frozen; frozen again at exit): the fair floor for our overhead.
"""

import json
import os
import sys
import time

T0 = time.perf_counter()
STEP, WORK, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
SEED = 42
GC_PAUSED = os.environ.get("PLAIN_GC_PAUSED") == "1"
if GC_PAUSED:
    import atexit
    import gc

    gc.disable()
    atexit.register(gc.freeze)


def imports_done():
    if GC_PAUSED and not gc.isenabled():
        gc.freeze()
        gc.enable()


def keras_seeded():
    import keras

    imports_done()
    keras.utils.set_random_seed(SEED)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return keras


def build_arch():
    keras = keras_seeded()
    model = keras.Sequential([keras.Input((7129,)), keras.layers.Dense(16, activation="elu"),
                              keras.layers.Dense(16, activation="elu"), keras.layers.Dense(1, activation="sigmoid")])
    with open(os.path.join(WORK, "plain_arch.json"), "w") as fh:
        fh.write(model.to_json())


def build_model():
    keras = keras_seeded()
    with open(os.path.join(WORK, "plain_arch.json")) as fh:
        model = keras.models.model_from_json(fh.read())
    model.compile(loss="binary_crossentropy", optimizer="rmsprop")
    with open(os.path.join(WORK, "plain_model.json"), "w") as fh:
        json.dump({"arch": json.loads(model.to_json()), "epochs": 10, "batch_size": 4, "seed": SEED}, fh)


def train_eval():
    keras = keras_seeded()
    import pandas as pd
    from sklearn.model_selection import train_test_split

    X = pd.read_csv(os.path.join(DATA, "X_train.tsv"), sep="\t").to_numpy("float32")
    y = pd.read_csv(os.path.join(DATA, "y_train.tsv"), sep="\t").to_numpy().ravel()
    with open(os.path.join(WORK, "plain_model.json")) as fh:
        model = keras.models.model_from_json(json.dumps(json.load(fh)["arch"]))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    Xa, Xv, ya, yv = train_test_split(X, y, test_size=0.2, stratify=y, random_state=SEED)
    model.fit(Xa, ya, epochs=10, batch_size=4, validation_data=(Xv, yv), verbose=0)
    scores = [model.evaluate(Xa, ya, verbose=0), model.evaluate(Xv, yv, verbose=0)]
    pd.DataFrame(scores, columns=["loss", "accuracy"]).to_csv(os.path.join(WORK, "plain_scores.tsv"), sep="\t", index=False)
    model.save_weights(os.path.join(WORK, "plain.weights.h5"))


def predict():
    keras = keras_seeded()
    import pandas as pd

    with open(os.path.join(WORK, "plain_model.json")) as fh:
        model = keras.models.model_from_json(json.dumps(json.load(fh)["arch"]))
    model.load_weights(os.path.join(WORK, "plain.weights.h5"))
    X = pd.read_csv(os.path.join(DATA, "X_test.tsv"), sep="\t").to_numpy("float32")
    p = (model.predict(X, verbose=0).ravel() > 0.5).astype(int)
    pd.DataFrame({"Predicted": p}).to_csv(os.path.join(WORK, "plain_predictions.tsv"), sep="\t", index=False)


def plot_cm():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from sklearn.metrics import ConfusionMatrixDisplay

    y = pd.read_csv(os.path.join(DATA, "y_test.tsv"), sep="\t").iloc[:, 0]
    p = pd.read_csv(os.path.join(WORK, "plain_predictions.tsv"), sep="\t").iloc[:, 0]
    ConfusionMatrixDisplay.from_predictions(y, p, cmap="Blues")
    plt.title("Confusion matrix")
    plt.savefig(os.path.join(WORK, "plain_cm.png"), dpi=150)


def fit_only():
    """Training throughput baseline: arrays from .npy (loading set apart), same model and split."""
    import numpy as np

    keras = keras_seeded()
    X = np.load(os.path.join(WORK, "big_X.npy"))
    y = np.load(os.path.join(WORK, "big_y.npy"))
    from sklearn.model_selection import train_test_split

    Xa, Xv, ya, yv = train_test_split(X, y, test_size=0.2, stratify=y, random_state=SEED)
    start = time.perf_counter()  # like galaxy-dl's estimator.fit: build, compile and fit
    model = keras.Sequential([keras.Input((X.shape[1],))] + [keras.layers.Dense(256, activation="relu") for _ in range(3)]
                             + [keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit(Xa, ya.astype("float32"), epochs=2, batch_size=256, validation_data=(Xv, yv.astype("float32")), verbose=0)
    return {"fit_seconds": time.perf_counter() - start, "rows": len(Xa), "epochs": 2}


STEPS = {"build_arch": build_arch, "build_model": build_model, "train_eval": train_eval, "predict": predict, "plot_cm": plot_cm}

if __name__ == "__main__":
    extra = {}
    if STEP == "tutorial":
        for fn in STEPS.values():
            fn()
    elif STEP == "import_only":
        import keras  # noqa: F401

        imports_done()
    elif STEP == "fit_only":
        extra = fit_only()
    else:
        STEPS[STEP]()
    print(json.dumps({"step": STEP, "seconds": time.perf_counter() - T0, **extra}))
