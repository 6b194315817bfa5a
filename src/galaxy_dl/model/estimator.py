"""Keras models as scikit-learn estimators: parameters in, ``fit`` returns self, learned state ends in ``_``.

``KerasClassifier`` and ``KerasRegressor`` (Galaxy-ML's KerasGClassifier / KerasGRegressor)
hold only JSON-able parameters, so the estimator archive can store them without pickle.
Labels of any type are encoded for Keras and decoded on the way out. Besides one label column
(``target_layout_ = "single"``), a classifier takes one 0/1 column per unit of a sigmoid output
("multilabel"), a regressor one column per output unit ("multitarget"), and a model with several
outputs one column per output ("multioutput", scikit-learn's conventions: ``classes_`` is then a
list with one array per output, ``predict`` returns one column per output).
"""

import contextlib
import math
import sys
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from galaxy_dl import runtime
from galaxy_dl.data import streaming
from galaxy_dl.errors import DataError, LabelError, ModelError, TrainingError, UsageError, first_line, suggest
from galaxy_dl.model import plans, seqinput
from galaxy_dl.model.compilation import (
    CLASSIFICATION_LOSSES,
    canonical_loss,
    canonical_metric,
    check_callback,
    make_callback,
    make_optimizer,
)

TASKS = ("classification", "regression")
LAYOUTS = ("single", "multilabel", "multitarget", "multioutput")
DEFAULT_LOSS = {"classification": "binary_crossentropy", "regression": "mse"}
PREDICT_BATCH = 4096
LABEL_BLOCK = 1 << 20  # labels encoded a block at a time
ONE_HOT_LOSSES = ("categorical_crossentropy", "categorical_hinge", "categorical_focal_crossentropy", "kl_divergence")


class KerasEstimator(BaseEstimator):
    """Common parameters and behaviour; use :class:`KerasClassifier` or :class:`KerasRegressor`."""

    task = "classification"

    def __init__(
        self,
        architecture=None,
        loss=None,
        loss_weights=None,
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
        self.loss_weights = loss_weights
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

    def set_params(self, **params):
        """scikit-learn's, plus the names a search varies (``dense_1.units``, ``learning_rate``,
        ``EarlyStopping.patience``: see :mod:`galaxy_dl.model.parameters`), which change copies of the
        architecture, optimizer parameters or callbacks."""
        from galaxy_dl.model.parameters import native

        return super().set_params(**native(self, params))

    def _given_losses(self) -> dict | str:
        """Canonical loss names: one for every output, or ``{output name: loss}``."""
        if isinstance(self.loss, dict):
            return {str(k): canonical_loss(v) for k, v in self.loss.items()}
        return canonical_loss(self.loss or DEFAULT_LOSS[self.task])

    def _losses(self, model) -> list[str]:
        """One canonical loss per model output, in output order."""
        names = output_names(model)
        given = self._given_losses()
        if isinstance(given, str):
            return [given] * len(names)
        for key in given:
            if key not in names:
                raise UsageError(
                    f"--loss: the model has no output {key!r}{suggest(key, names)} (outputs: {', '.join(names)})"
                )
        missing = [n for n in names if n not in given]
        if missing:
            raise UsageError(f"--loss: no loss for output {missing[0]!r}: give one per output, or one loss for all")
        return [given[n] for n in names]

    def validate(self, model=None) -> None:
        """Refuse impossible parameter combinations before any training; ``model`` adds output checks."""
        given = self._given_losses()
        for loss in given.values() if isinstance(given, dict) else [given]:
            if self.task == "regression" and loss in CLASSIFICATION_LOSSES:
                raise UsageError(
                    f"--loss: {loss} is a classification loss; for regression use mse, mae, huber, log_cosh, …"
                )
        if self.loss_weights is not None and not (
            isinstance(self.loss_weights, dict)
            and all(
                isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in self.loss_weights.values()
            )
        ):
            raise UsageError("--loss-weights must be OUTPUT=WEIGHT pairs with non-negative weights")
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
            names = output_names(model)
            for key in self.loss_weights or {}:
                if key not in names:
                    raise UsageError(f"--loss-weights: the model has no output {key!r}{suggest(str(key), names)}")
            if self.class_weight is not None and len(names) > 1:
                raise UsageError(
                    "--class-weight applies to models with one output (Keras weighs classes of one output only)"
                )
            for index, loss in enumerate(self._losses(model)):
                try:
                    self._check_output(model, index, loss)
                except UsageError as exc:
                    raise UsageError(f"output {names[index]!r}: {exc}" if len(names) > 1 else str(exc)) from None

    def _check_output(self, model, index: int, loss: str) -> None:
        units = model.outputs[index].shape[-1]
        activation = _output_activation(model, index)
        if self.task == "classification":
            if activation == "softmax" and units == 1:
                raise UsageError(
                    'a softmax output with one unit always outputs 1: use Dense(1, activation="sigmoid") or '
                    'Dense(n_classes, activation="softmax")'
                )
            if units == 1 and loss in (
                "categorical_crossentropy",
                "sparse_categorical_crossentropy",
                "categorical_hinge",
                "categorical_focal_crossentropy",
            ):
                raise UsageError(
                    f"--loss {loss} needs one output unit per class, but the output has 1 unit: use "
                    "binary_crossentropy, or a softmax output with n_classes units"
                )
            if (
                units
                and units > 1
                and loss in ("binary_crossentropy", "binary_focal_crossentropy")
                and activation == "softmax"
            ):
                raise UsageError(
                    f"--loss {loss} with a {units}-unit softmax output: use categorical_crossentropy or "
                    "sparse_categorical_crossentropy"
                )
            if activation == "sigmoid" and units == 1 and loss == "hinge":
                raise UsageError(
                    "--loss hinge expects outputs in [-1, 1]: use a tanh or linear output, or binary_crossentropy"
                )

    # --- Keras plumbing --------------------------------------------------------------

    def _build_model(self, seeded: bool = True):
        from galaxy_dl.model.architecture import check_safe, model_from_config

        runtime.import_keras()  # quietly, where nothing has imported Keras yet (a search's worker process)
        if seeded and self.seed is not None:
            runtime.seed(int(self.seed))
        if not isinstance(self.architecture, dict):
            raise ModelError("the estimator has no architecture")
        check_safe(self.architecture, "architecture")
        return model_from_config(self.architecture, "architecture")

    def _compile(self, model) -> None:
        names = output_names(model)
        losses = self._losses(model)
        metrics = [canonical_metric(m) for m in self.metrics or ()]
        several = len(names) > 1
        model.compile(
            loss=dict(zip(names, losses, strict=True)) if several else losses[0],
            loss_weights=dict(self.loss_weights) if self.loss_weights else None,
            optimizer=make_optimizer(self.optimizer, dict(self.optimizer_params or {})),
            metrics={name: list(metrics) for name in names} if several else metrics,
        )

    def _inputs(self, X, model=None):
        """Reshape flat rows to the model's input shape(s); several inputs take consecutive columns."""
        import numpy as np

        model = model or self.model_
        sequence = seqinput.input_shape(self)
        if sequence is not None:
            return X.reshape((len(X), *sequence))
        shapes = [tuple(t.shape[1:]) for t in model.inputs]
        if not all(shapes) or any(d is None for s in shapes for d in s):
            return X
        sizes = [math.prod(s) for s in shapes]
        if sum(sizes) != X.shape[1]:
            raise DataError(f"the model takes {sum(sizes)} input columns, but the table has {X.shape[1]}")
        parts, start = [], 0
        for shape, size in zip(shapes, sizes, strict=True):
            parts.append(np.ascontiguousarray(X[:, start : start + size]).reshape((len(X), *shape)))
            start += size
        return parts[0] if len(parts) == 1 else parts

    def _adapt_normalization(self, model, X) -> None:
        """Fit the statistics of Normalization layers that read a model input, so scaling lives in the model;
        a streamed matrix is adapted block by block (training rows only: the scheme passes no others)."""
        import keras

        input_ids = {id(t): i for i, t in enumerate(model.inputs)}
        for layer in model.layers:
            if not isinstance(layer, keras.layers.Normalization) or layer.input_mean is not None:
                continue
            source = layer._inbound_nodes[0].input_tensors[0] if layer._inbound_nodes else None
            if source is None or id(source) not in input_ids:
                raise ModelError(f"Normalization layer {layer.name!r} must read a model input directly to be adapted")
            index = input_ids[id(source)]

            def one_input(block, index=index):
                inputs = self._inputs(block, model)
                return inputs[index] if isinstance(inputs, list) else inputs

            layer.adapt((one_input(block) for block in X.blocks()) if streaming.is_lazy(X) else one_input(X))

    def _feed(self, X, y=None, model=None, *, batch_size: int, shuffle: bool | None = None) -> dict:
        """Keras' x (and y, batch_size, shuffle) for X: arrays as they are, a streamed matrix as a tf.data
        pipeline of batches (shuffled per epoch with the estimator's seed)."""
        model = model or self.model_
        if streaming.is_lazy(X):
            feed = {
                "x": streaming.feed(
                    X,
                    lambda block: self._inputs(block, model),
                    y,
                    batch_size=batch_size,
                    shuffle=bool(shuffle),
                    seed=self.seed,
                )
            }
            if shuffle is not None:
                feed["shuffle"] = False  # the pipeline shuffles; Keras cannot shuffle a dataset
            return feed
        feed = {"x": self._inputs(X, model), "batch_size": batch_size}
        if y is not None:
            feed["y"] = y
        if shuffle is not None:
            feed["shuffle"] = shuffle
        return feed

    def _verbose(self):
        if self.verbose != "auto":
            return self.verbose
        return 1 if sys.stderr.isatty() else 2

    def fit(self, X, y, validation_data=None):
        """Build from the architecture (seeded first), compile, train; ``validation_data`` is (X, y).

        Under a distributed plan (:mod:`galaxy_dl.model.plans`) the model is built and trained in the
        plan's scope, and ``model_`` is a process-local copy of the result.
        """
        import numpy as np

        plan = plans.current()
        with plan.scope():
            model = self._build_model()
            self.validate(model)
            self._compile(model)
            self._adapt_normalization(model, X)
            y_fit = self._encode_fit(y, model)
            fit_kwargs = {
                "epochs": int(self.epochs),
                "steps_per_epoch": self.steps_per_epoch,
                "verbose": self._verbose(),
                "class_weight": self._class_weight(y),
            }
            validation_split = float(self.validation_split or 0)
            validation = None  # (X, encoded labels)
            if validation_data is not None:
                validation = (validation_data[0], self._encode(validation_data[1], model))
            elif validation_split and (streaming.is_lazy(X) or plan.shards_data):
                X, y_fit, validation = _split_tail(X, y_fit, validation_split)  # as Keras splits arrays
            X, y_fit = seqinput.learn(self, X, y_fit, model)  # sequences: the encoding learned from the rows fitted on
            if plan.shards_data:
                fit_kwargs.update(plan.feed(self, model, X, y_fit, validation))
            else:
                fit_kwargs.update(
                    self._feed(X, y_fit, model, batch_size=int(self.batch_size), shuffle=bool(self.shuffle))
                )
                if validation is not None:
                    feed = self._feed(*validation, model, batch_size=int(self.batch_size))
                    fit_kwargs["validation_data"] = (feed["x"], feed["y"]) if "y" in feed else feed["x"]
                    fit_kwargs["validation_steps"] = self.validation_steps
                elif validation_split:
                    fit_kwargs["validation_split"] = validation_split
            fit_kwargs["callbacks"] = (
                fit_kwargs.pop("callbacks", [])
                + [make_callback(spec) for spec in self.callbacks or ()]
                + _interrupt_checks()
            )
            self.n_features_in_ = int(X.shape[1])
            history = self._run_fit(model, fit_kwargs)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        losses = self.history_.get("loss", [])
        if losses and not all(np.isfinite(losses)):
            raise TrainingError(
                f"the training loss became {losses[-1]} at epoch {len(losses)}: lower the learning rate, "
                "scale the inputs (a Normalization layer), or add clipnorm"
            )
        self.model_ = plan.replica(self, model)
        return self

    @staticmethod
    def _run_fit(model, fit_kwargs):
        try:
            with contextlib.redirect_stdout(sys.stderr):  # keep stdout for tables written to '-'
                return model.fit(**fit_kwargs)
        except (ValueError, TypeError) as exc:
            if (lost := plans.current().lost_peer(exc)) is not None:
                raise lost from None
            raise ModelError(f"the model does not fit the data: {first_line(exc)}") from None

    def _rebuild(self):
        """The architecture built and compiled again without seeding (its weights are about to be set)."""
        model = self._build_model(seeded=False)
        self._compile(model)
        return model

    def _class_weight(self, y):
        return None

    def target_layout(self) -> str:
        """How the labels map onto the outputs (``target_layout_``; "single" before fitting and in older archives)."""
        return getattr(self, "target_layout_", "single")

    def output_views(self) -> list:
        """(name prefix, estimator-like view, label column) per output that scikit-learn scores separately."""
        if self.target_layout() != "multioutput":
            return [("", self, None)]
        return [(f"{name}_", self._view_class(self, j), j) for j, name in enumerate(output_names(self.model_))]

    def evaluate(self, X, y) -> dict:
        """Keras' loss and compiled metrics on (X, y)."""
        feed = self._feed(X, self._encode(y, self.model_), batch_size=self._inference_batch(X, PREDICT_BATCH))
        with contextlib.redirect_stdout(sys.stderr):
            result = self.model_.evaluate(**feed, verbose=0, return_dict=True)
        return {k: float(v) for k, v in result.items()}

    def predict_with_proba(self, X):
        """Predictions and, where they exist for one label column, class probabilities (else None), from one
        pass over ``X``."""
        return self.predict(X), None

    def _raw_predict(self, X):
        batch_size = self._inference_batch(X, PREDICT_BATCH)
        if streaming.is_lazy(X):
            return streaming.predict(self.model_, X, lambda block: self._inputs(block), batch_size)
        return self.model_.predict(**self._feed(X, batch_size=batch_size), verbose=0)

    def _inference_batch(self, X, preferred: int) -> int:
        """Large batches for evaluate and predict, but a streamed block of them stays about BLOCK_BYTES."""
        batch = max(int(self.batch_size), preferred)
        return (
            min(batch, max(int(self.batch_size), streaming.block_rows(X.shape[1]))) if streaming.is_lazy(X) else batch
        )


def _output_activation(model, index: int = 0) -> str | None:
    try:
        layer = model.outputs[index]._keras_history[0]
    except (AttributeError, IndexError):
        layer = model.layers[-1] if model.layers else None
    if layer is None:
        return None
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _split_tail(X, y_fit, fraction: float):
    """The last ``fraction`` of the rows as validation data, as Keras' validation_split does for arrays."""
    import keras

    cut = len(X) - max(1, int(len(X) * fraction))
    head = keras.tree.map_structure(lambda a: a[:cut], y_fit)
    tail = keras.tree.map_structure(lambda a: a[cut:], y_fit)
    return X[:cut], head, (X[cut:], tail)


def _interrupt_checks() -> list:
    """A Keras callback that stops training after the batch in which Ctrl-C or SIGTERM arrived: TensorFlow's
    tracing and JAX's dispatch can swallow the KeyboardInterrupt. It is marked async-safe, so that Keras need
    not wait for every step's logs (that wait cost a distributed JAX fit 30% here); Keras raises what the check
    raised at the next batch."""
    import keras

    class InterruptCheck(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_end(self, batch, logs=None):
            runtime.check_interrupted()

    return [InterruptCheck()]


def output_names(model) -> list[str]:
    """The names Keras gives a model's outputs (a Sequential model's is its last layer's)."""
    names = getattr(model, "output_names", None)
    return list(names) if names else [model.layers[-1].name]


def _layout(y, model, task: str) -> str:
    """How the label columns map onto the model's outputs (see the module docstring)."""
    names = output_names(model)
    columns = 1 if y.ndim == 1 else y.shape[1]
    if len(names) > 1:
        if columns != len(names):
            raise LabelError(
                f"the model has {len(names)} outputs ({', '.join(names)}), but the labels have {columns} "
                "column(s): give one label column per output"
            )
        return "multioutput"
    if columns == 1:
        return "single"
    units = model.outputs[0].shape[-1]
    if columns != units:
        kind = (
            "one 0/1 column per output unit for multi-label"
            if task == "classification"
            else "one column per output unit"
        )
        raise LabelError(
            f"the labels have {columns} columns, but the model's output has {units} unit(s): "
            f"choose one label column (--y-cols / --y-names), or give {kind}"
        )
    return "multilabel" if task == "classification" else "multitarget"


def label_column(y, j: int):
    """Column ``j`` of a label matrix with its own dtype (a mixed table's columns arrive as objects)."""
    import numpy as np

    return np.asarray(y[:, j].tolist())


class _OutputView:
    """One output of a multi-output estimator, shaped like a one-output estimator for scikit-learn's scorers."""

    def __init__(self, parent, index: int):
        self.parent = parent
        self.index = index

    def predict(self, X):
        return label_column(self.parent.predict(X), self.index)


class _ClassifierOutput(ClassifierMixin, _OutputView, BaseEstimator):
    @property
    def classes_(self):
        return self.parent.classes_[self.index]

    def predict_proba(self, X):
        return self.parent.predict_proba(X)[self.index]


class _RegressorOutput(RegressorMixin, _OutputView, BaseEstimator):
    pass


class KerasClassifier(ClassifierMixin, KerasEstimator):
    """Labels of any type; one sigmoid unit for two classes or one unit per class; multi-label and multi-output."""

    task = "classification"
    _view_class = _ClassifierOutput

    def reads_one_hot(self, columns: int) -> bool:
        """Whether ``columns`` label columns mean one class per row for this model: one output of as many units,
        softmax or a categorical loss (a multi-label model has sigmoid units and binary cross-entropy)."""
        model = self._build_model(seeded=False)
        if len(model.outputs) != 1 or columns < 2 or model.outputs[0].shape[-1] != columns:
            return False
        return _output_activation(model) == "softmax" or self._losses(model)[0] in ONE_HOT_LOSSES

    def _encode_fit(self, y, model):
        import numpy as np
        from sklearn.preprocessing import LabelEncoder

        y = np.asarray(y)
        self.target_layout_ = _layout(y, model, self.task)
        if self.target_layout_ == "multilabel":
            self.classes_: Any = np.tile(np.array([0, 1]), (y.shape[1], 1))
        elif self.target_layout_ == "multioutput":
            self.classes_ = [LabelEncoder().fit(label_column(y, j)).classes_ for j in range(y.shape[1])]
            for j, classes in enumerate(self.classes_):
                self._check_classes(classes, model.outputs[j].shape[-1], f"output {output_names(model)[j]!r}: ")
        else:
            self.classes_ = LabelEncoder().fit(y.reshape(-1)).classes_
            self._check_classes(self.classes_, model.outputs[0].shape[-1], "")
        if self.target_layout_ != "multilabel":
            for classes in self.classes_ if self.target_layout_ == "multioutput" else [self.classes_]:
                if len(classes) < 2:
                    raise LabelError(
                        f"every label is {classes[0].item() if hasattr(classes[0], 'item') else classes[0]!r}: "
                        "a classifier needs at least two classes"
                    )
        return self._encode(y, model)

    @staticmethod
    def _check_classes(classes, units, where: str) -> None:
        n = len(classes)
        if units == 1 and n > 2:
            raise LabelError(
                f"{where}the labels have {n} classes, but the output layer has 1 unit (2 classes at most): use "
                f'Dense({n}, activation="softmax") with sparse_categorical_crossentropy'
            )
        if units and units > 1 and n > units:
            raise LabelError(f"{where}the labels have {n} classes, but the output layer has {units} units")

    def _encode(self, y, model):
        import numpy as np

        y = np.asarray(y)
        layout = self.target_layout()
        if layout == "multilabel":
            bad = ~np.isin(y, (0, 1))
            if bad.any():
                row, col = np.argwhere(bad)[0]
                value = y[row, col].item() if hasattr(y[row, col], "item") else y[row, col]
                raise LabelError(f"multi-label labels must be 0 or 1: label column {col + 1} holds {value!r}")
            return y.astype(np.float32)
        losses = self._losses(model)
        if layout == "multioutput":
            return [
                self._encode_column(label_column(y, j), self.classes_[j], model.outputs[j].shape[-1], losses[j])
                for j in range(len(losses))
            ]
        return self._encode_column(y.reshape(-1), self.classes_, model.outputs[0].shape[-1], losses[0])

    @staticmethod
    def _encode_column(y, classes, units, loss):
        """Class codes by binary search in the sorted ``classes``, a block of labels at a time (no Python object
        and no 8-byte temporary per row: millions of streamed labels stay cheap); a label not among them is an
        error naming it."""
        import numpy as np

        one_hot = units and units > 1 and loss in (*ONE_HOT_LOSSES, "mse", "mae")
        out = np.empty((len(y), units) if one_hot else len(y), dtype=np.float32 if one_hot or units == 1 else np.int64)
        for start in range(0, len(y), LABEL_BLOCK):
            block = y[start : start + LABEL_BLOCK]
            try:
                codes = np.minimum(np.searchsorted(classes, block), len(classes) - 1)
                known = np.asarray(classes[codes] == block, dtype=bool)
            except TypeError:  # labels of another type than the classes
                known = np.zeros(len(block), dtype=bool)
            if not known.all():
                unknown = block[int(np.argmin(known))]
                unknown = unknown.item() if hasattr(unknown, "item") else unknown
                raise LabelError(f"label {unknown!r} was not seen in training (classes: {classes.tolist()})")
            out[start : start + len(block)] = np.eye(units, dtype=np.float32)[codes] if one_hot else codes
        return out

    def _class_weight(self, y):
        import numpy as np

        if self.class_weight is None:
            return None
        if self.target_layout() != "single":
            raise UsageError("--class-weight applies to one label column (not to multi-label or multi-output labels)")
        if self.class_weight == "balanced":
            from sklearn.utils.class_weight import compute_class_weight

            weights = compute_class_weight("balanced", classes=self.classes_, y=np.asarray(y).reshape(-1))
            return dict(enumerate(weights.tolist()))
        by_label = {str(k): float(v) for k, v in self.class_weight.items()}
        missing = [str(c) for c in self.classes_ if str(c) not in by_label]
        if missing:
            raise UsageError(f"--class-weight gives no weight for classes {missing}")
        return {i: by_label[str(c)] for i, c in enumerate(self.classes_)}

    @staticmethod
    def _proba(p, classes):
        import numpy as np

        p = np.asarray(p, dtype=np.float64)
        if p.ndim == 2 and p.shape[1] > 1:
            return p[:, : len(classes)]
        if len(classes) == 1:
            return np.ones((len(p), 1))
        p = p.reshape(-1)
        return np.column_stack([1.0 - p, p])

    @staticmethod
    def _decode(p, classes):
        import numpy as np

        if p.ndim == 1 or p.shape[1] == 1:
            return np.where(p.reshape(-1) > 0.5, classes[-1], classes[0])  # no 8-byte code per row
        else:
            codes = p[:, : len(classes)].argmax(axis=1)  # units beyond the classes seen in training name no class
        return classes[codes]

    def predict_proba(self, X):
        """One column per class, in ``classes_`` order; multi-label: one column per label; multi-output: a list
        with one such array per output."""
        import numpy as np

        p = self._raw_predict(X)
        layout = self.target_layout()
        if layout == "multioutput":
            return [self._proba(pj, self.classes_[j]) for j, pj in enumerate(p)]
        if layout == "multilabel":
            return np.asarray(p, dtype=np.float64)
        return self._proba(p, self.classes_)

    def predict_with_proba(self, X):
        if self.target_layout() != "single":
            return self.predict(X), None
        p = self._raw_predict(X)
        return self._decode(p, self.classes_), self._proba(p, self.classes_)

    def predict(self, X):
        import numpy as np

        p = self._raw_predict(X)
        layout = self.target_layout()
        if layout == "multioutput":
            out = np.empty((len(p[0]), len(p)), dtype=object)
            for j, pj in enumerate(p):
                out[:, j] = self._decode(pj, self.classes_[j])
            return out
        if layout == "multilabel":
            return (p > 0.5).astype(np.int64)
        return self._decode(p, self.classes_)


class KerasRegressor(RegressorMixin, KerasEstimator):
    """Float targets; one output unit per target, or one column per output."""

    task = "regression"
    _view_class = _RegressorOutput

    def _encode_fit(self, y, model):
        import numpy as np

        self.target_layout_ = _layout(np.asarray(y), model, self.task)
        return self._encode(y, model)

    def _encode(self, y, model):
        import numpy as np

        try:
            y = np.asarray(y, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError("regression targets must be numbers") from None
        if not np.isfinite(y).all():
            row = int(np.argmax(~np.isfinite(y).reshape(len(y), -1).all(axis=1)))
            raise LabelError(
                f"regression targets must be finite: row {row + 1} holds {y.reshape(len(y), -1)[row].tolist()} "
                "(beyond float32's range, or infinite)"
            )
        if self.target_layout() == "multioutput":
            return [y[:, j] for j in range(y.shape[1])]
        return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y

    def predict(self, X):
        import numpy as np

        p = self._raw_predict(X)
        if isinstance(p, (list, tuple)):
            return np.column_stack([np.asarray(pj).reshape(len(pj), -1) for pj in p])
        return p.reshape(-1) if p.ndim == 2 and p.shape[1] == 1 else p


ESTIMATORS = {"classification": KerasClassifier, "regression": KerasRegressor}


def make_estimator(task: str, **params) -> KerasEstimator:
    if task not in ESTIMATORS:
        raise UsageError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
    return ESTIMATORS[task](**params)
