"""Keras models as scikit-learn estimators: parameters in, ``fit`` returns self, learned state ends in ``_``.

``KerasClassifier`` and ``KerasRegressor`` (Galaxy-ML's KerasGClassifier / KerasGRegressor)
hold only JSON-able parameters, so the estimator archive can store them without pickle.
Labels of any type are encoded for Keras and decoded on the way out.
"""

import contextlib
import math
import sys

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from . import runtime
from .compilation import (
    CLASSIFICATION_LOSSES,
    canonical_loss,
    canonical_metric,
    check_callback,
    make_callback,
    make_optimizer,
)
from .errors import DataError, ModelError, TrainingError, UsageError, first_line

TASKS = ("classification", "regression")
DEFAULT_LOSS = {"classification": "binary_crossentropy", "regression": "mse"}
PREDICT_BATCH = 4096


class KerasEstimator(BaseEstimator):
    """Common parameters and behaviour; use :class:`KerasClassifier` or :class:`KerasRegressor`."""

    task = "classification"

    def __init__(
        self,
        architecture=None,
        loss=None,
        optimizer="rmsprop",
        optimizer_params=None,
        metrics=None,
        epochs=10,
        batch_size=32,
        validation_split=0.0,
        steps_per_epoch=None,
        validation_steps=None,
        shuffle=True,
        class_weight=None,
        callbacks=None,
        verbose="auto",
        seed=None,
    ):
        self.architecture = architecture
        self.loss = loss
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.steps_per_epoch = steps_per_epoch
        self.validation_steps = validation_steps
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.verbose = verbose
        self.seed = seed

    # --- parameters -----------------------------------------------------------------

    def _loss(self) -> str:
        """The canonical loss name; the task's default when none was given."""
        return canonical_loss(self.loss or DEFAULT_LOSS[self.task])

    def validate(self, model=None) -> None:
        """Refuse impossible parameter combinations before any training; ``model`` adds output checks."""
        loss = self._loss()
        if self.task == "regression" and loss in CLASSIFICATION_LOSSES:
            raise UsageError(f"--loss: {loss} is a classification loss; for regression use mse, mae, huber, log_cosh, …")
        make_optimizer(self.optimizer, dict(self.optimizer_params or {}))
        for metric in self.metrics or ():
            canonical_metric(metric)
        for name, value, low in (("epochs", self.epochs, 1), ("batch-size", self.batch_size, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise UsageError(f"--{name} must be a positive integer, not {value!r}")
        if not 0.0 <= float(self.validation_split) < 1.0:
            raise UsageError(f"--validation-split must be in [0, 1), not {self.validation_split!r}")
        for name, value in (("steps-per-epoch", self.steps_per_epoch), ("validation-steps", self.validation_steps)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UsageError(f"--{name} must be a positive integer, not {value!r}")
        if self.class_weight is not None:
            if self.task == "regression":
                raise UsageError("--class-weight applies to classification only")
            if self.class_weight != "balanced" and not isinstance(self.class_weight, dict):
                raise UsageError("--class-weight must be 'balanced' or label=weight pairs")
        for spec in self.callbacks or ():
            check_callback(spec)
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0):
            raise UsageError(f"--seed must be a non-negative integer, not {self.seed!r}")
        if self.verbose not in ("auto", 0, 1, 2):
            raise UsageError(f"--verbose must be auto, 0, 1 or 2, not {self.verbose!r}")
        if model is not None:
            self._check_outputs(model, loss)

    def _check_outputs(self, model, loss: str) -> None:
        if len(model.outputs) != 1:
            raise UsageError(f"the model has {len(model.outputs)} outputs; train-eval fits models with one output")
        units = model.outputs[0].shape[-1]
        activation = _output_activation(model)
        if self.task == "classification":
            if activation == "softmax" and units == 1:
                raise UsageError("a softmax output with one unit always outputs 1: use Dense(1, activation=\"sigmoid\") or Dense(n_classes, activation=\"softmax\")")
            if units == 1 and loss in ("categorical_crossentropy", "sparse_categorical_crossentropy", "categorical_hinge", "categorical_focal_crossentropy"):
                raise UsageError(f"--loss {loss} needs one output unit per class, but the output has 1 unit: use binary_crossentropy, or a softmax output with n_classes units")
            if units and units > 1 and loss in ("binary_crossentropy", "binary_focal_crossentropy") and activation == "softmax":
                raise UsageError(f"--loss {loss} with a {units}-unit softmax output: use categorical_crossentropy or sparse_categorical_crossentropy")
            if activation == "sigmoid" and units == 1 and loss == "hinge":
                raise UsageError("--loss hinge expects outputs in [-1, 1]: use a tanh or linear output, or binary_crossentropy")

    # --- Keras plumbing --------------------------------------------------------------

    def _build_model(self):
        from .architecture import check_safe, model_from_config

        if self.seed is not None:
            runtime.seed(int(self.seed))
        if not isinstance(self.architecture, dict):
            raise ModelError("the estimator has no architecture")
        check_safe(self.architecture, "architecture")
        return model_from_config(self.architecture, "architecture")

    def _compile(self, model) -> None:
        model.compile(
            loss=self._loss(),
            optimizer=make_optimizer(self.optimizer, dict(self.optimizer_params or {})),
            metrics=[canonical_metric(m) for m in self.metrics or ()],
        )

    def _inputs(self, X, model=None):
        """Reshape flat rows to the model's input shape(s); several inputs take consecutive columns."""
        import numpy as np

        model = model or self.model_
        shapes = [tuple(t.shape[1:]) for t in model.inputs]
        sizes = [math.prod(s) if all(shapes) else None for s in shapes]
        if None in sizes or any(d is None for s in shapes for d in s):
            return X
        if sum(sizes) != X.shape[1]:
            raise DataError(f"the model takes {sum(sizes)} input columns, but the table has {X.shape[1]}")
        parts, start = [], 0
        for shape, size in zip(shapes, sizes):
            parts.append(np.ascontiguousarray(X[:, start:start + size]).reshape((len(X), *shape)))
            start += size
        return parts[0] if len(parts) == 1 else parts

    def _adapt_normalization(self, model, X) -> None:
        """Fit the statistics of Normalization layers that read a model input, so scaling lives in the model."""
        import keras

        inputs = self._inputs(X, model)
        inputs = inputs if isinstance(inputs, list) else [inputs]
        input_ids = {id(t): i for i, t in enumerate(model.inputs)}
        for layer in model.layers:
            if not isinstance(layer, keras.layers.Normalization) or layer.input_mean is not None:
                continue
            source = layer._inbound_nodes[0].input_tensors[0] if layer._inbound_nodes else None
            if source is None or id(source) not in input_ids:
                raise ModelError(f"Normalization layer {layer.name!r} must read a model input directly to be adapted")
            layer.adapt(inputs[input_ids[id(source)]])

    def _verbose(self):
        if self.verbose != "auto":
            return self.verbose
        return 1 if sys.stderr.isatty() else 2

    def fit(self, X, y, validation_data=None):
        """Build from the architecture (seeded first), compile, train; ``validation_data`` is (X, y)."""
        import numpy as np

        model = self._build_model()
        self.validate(model)
        self._compile(model)
        self._adapt_normalization(model, X)
        y_fit = self._encode_fit(y, model)
        fit_kwargs = dict(
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            shuffle=bool(self.shuffle),
            steps_per_epoch=self.steps_per_epoch,
            callbacks=[make_callback(spec) for spec in self.callbacks or ()],
            verbose=self._verbose(),
            class_weight=self._class_weight(y),
        )
        if validation_data is not None:
            Xv, yv = validation_data
            fit_kwargs["validation_data"] = (self._inputs(Xv, model), self._encode(yv, model))
            fit_kwargs["validation_steps"] = self.validation_steps
        elif self.validation_split:
            fit_kwargs["validation_split"] = float(self.validation_split)
        self.n_features_in_ = int(X.shape[1])
        try:
            with contextlib.redirect_stdout(sys.stderr):  # keep stdout for tables written to '-'
                history = model.fit(self._inputs(X, model), y_fit, **fit_kwargs)
        except (ValueError, TypeError) as exc:
            raise ModelError(f"the model does not fit the data: {first_line(exc)}") from None
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        losses = self.history_.get("loss", [])
        if losses and not all(np.isfinite(losses)):
            raise TrainingError(
                f"the training loss became {losses[-1]} at epoch {len(losses)}: lower the learning rate, "
                "scale the inputs (a Normalization layer), or add clipnorm"
            )
        self.model_ = model
        return self

    def _class_weight(self, y):
        return None

    def evaluate(self, X, y) -> dict:
        """Keras' loss and compiled metrics on (X, y)."""
        with contextlib.redirect_stdout(sys.stderr):
            result = self.model_.evaluate(
                self._inputs(X), self._encode(y, self.model_), batch_size=max(int(self.batch_size), 256), verbose=0, return_dict=True
            )
        return {k: float(v) for k, v in result.items()}

    def _raw_predict(self, X):
        return self.model_.predict(self._inputs(X), batch_size=max(int(self.batch_size), PREDICT_BATCH), verbose=0)


def _output_activation(model) -> str | None:
    try:
        layer = model.outputs[0]._keras_history[0]
    except (AttributeError, IndexError):
        layer = model.layers[-1] if model.layers else None
    if layer is None:
        return None
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


class KerasClassifier(ClassifierMixin, KerasEstimator):
    """Labels of any type; one sigmoid unit for two classes or one unit per class."""

    task = "classification"

    def _encode_fit(self, y, model):
        import numpy as np
        from sklearn.preprocessing import LabelEncoder

        encoder = LabelEncoder().fit(np.asarray(y))
        self.classes_ = encoder.classes_
        units = model.outputs[0].shape[-1]
        n = len(self.classes_)
        if units == 1 and n > 2:
            raise DataError(f"the labels have {n} classes, but the output layer has 1 unit (2 classes at most): use Dense({n}, activation=\"softmax\") with sparse_categorical_crossentropy")
        if units and units > 1 and n > units:
            raise DataError(f"the labels have {n} classes, but the output layer has {units} units")
        return self._encode(y, model)

    def _encode(self, y, model):
        import numpy as np

        y = np.asarray(y)
        index = {label: i for i, label in enumerate(self.classes_.tolist())}
        try:
            codes = np.fromiter((index[v] for v in y.tolist()), dtype=np.int64, count=len(y))
        except KeyError as exc:
            raise DataError(f"label {exc.args[0]!r} was not seen in training (classes: {self.classes_.tolist()})") from None
        units = model.outputs[0].shape[-1]
        loss = self._loss()
        if units and units > 1 and loss in ("categorical_crossentropy", "categorical_hinge", "categorical_focal_crossentropy", "kl_divergence", "mse", "mae"):
            return np.eye(units, dtype=np.float32)[codes]
        return codes.astype(np.float32 if units == 1 else np.int64)

    def _class_weight(self, y):
        import numpy as np

        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            from sklearn.utils.class_weight import compute_class_weight

            weights = compute_class_weight("balanced", classes=self.classes_, y=np.asarray(y))
            return dict(enumerate(weights.tolist()))
        by_label = {str(k): float(v) for k, v in self.class_weight.items()}
        missing = [str(c) for c in self.classes_ if str(c) not in by_label]
        if missing:
            raise UsageError(f"--class-weight gives no weight for classes {missing}")
        return {i: by_label[str(c)] for i, c in enumerate(self.classes_)}

    def predict_proba(self, X):
        """One column per class, in ``classes_`` order."""
        import numpy as np

        p = self._raw_predict(X).astype(np.float64)
        if p.ndim == 2 and p.shape[1] > 1:
            return p
        if len(self.classes_) == 1:
            return np.ones((len(p), 1))
        p = p.reshape(-1)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        import numpy as np

        p = self._raw_predict(X)
        if p.ndim == 1 or p.shape[1] == 1:
            codes = (p.reshape(-1) > 0.5).astype(np.int64)
            codes = np.minimum(codes, len(self.classes_) - 1)
        else:
            codes = p.argmax(axis=1)
        return self.classes_[codes]


class KerasRegressor(RegressorMixin, KerasEstimator):
    """Float targets; one output unit per target."""

    task = "regression"

    def _encode_fit(self, y, model):
        return self._encode(y, model)

    def _encode(self, y, model):
        import numpy as np

        try:
            return np.asarray(y, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError("regression targets must be numbers") from None

    def predict(self, X):
        p = self._raw_predict(X)
        return p.reshape(-1) if p.ndim == 2 and p.shape[1] == 1 else p


ESTIMATORS = {"classification": KerasClassifier, "regression": KerasRegressor}


def make_estimator(task: str, **params) -> KerasEstimator:
    if task not in ESTIMATORS:
        raise UsageError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
    return ESTIMATORS[task](**params)

