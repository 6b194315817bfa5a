"""Losses, optimizers, metrics and callbacks: names users may give, checked against Keras.

Everything here turns names and literal parameters into Keras objects; nothing is
evaluated. Aliases cover Galaxy-ML's and Keras 2's spellings.
"""

import inspect

from galaxy_dl.errors import UsageError, first_line, suggest

LOSS_ALIASES = {
    "logcosh": "log_cosh",
    "kullback_leibler_divergence": "kl_divergence",
    "kld": "kl_divergence",
    "cosine_proximity": "cosine_similarity",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "mean_absolute_percentage_error": "mape",
    "mean_squared_logarithmic_error": "msle",
}
CLASSIFICATION_LOSSES = {
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
}
REGRESSION_LOSSES = {"mse", "mae", "mape", "msle", "log_cosh", "huber", "poisson", "cosine_similarity", "kl_divergence"}
LOSSES = CLASSIFICATION_LOSSES | REGRESSION_LOSSES

METRIC_ALIASES = {"acc": "accuracy", "cosine_proximity": "cosine_similarity"}
OPTIMIZERS = (
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adamax",
    "Adagrad",
    "Adadelta",
    "Nadam",
    "Ftrl",
    "Lion",
    "Lamb",
    "Adafactor",
)
CALLBACKS = ("EarlyStopping", "ReduceLROnPlateau", "TerminateOnNaN")


def canonical_loss(name: str) -> str:
    key = str(name).strip().lower()
    key = LOSS_ALIASES.get(key, key)
    if key not in LOSSES:
        raise UsageError(f"--loss: unknown loss {name!r}{suggest(key, sorted(LOSSES | set(LOSS_ALIASES)))}")
    return key


def canonical_metric(name: str) -> str:
    import keras

    key = str(name).strip()
    key = METRIC_ALIASES.get(key.lower(), key)
    lowered = key.lower()
    try:
        keras.metrics.get(lowered)
        return lowered
    except (ValueError, TypeError):
        known = [n for n, o in vars(keras.metrics).items() if not n.startswith("_")]
        raise UsageError(f"--metrics: unknown metric {name!r}{suggest(key, known)}") from None


def _check_parameters(cls, params: dict, what: str, option: str) -> None:
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs", "args")]
    for key, value in params.items():
        if key not in accepted:
            raise UsageError(f"{option}: {what} takes no parameter {key!r}{suggest(key, accepted)}")
        if not (value is None or isinstance(value, (bool, int, float, str, list, tuple))):
            raise UsageError(f"{option}: {what} parameter {key!r} must be a literal, not {type(value).__name__}")


def optimizer_class(name: str):
    import keras

    lookup = {n.lower(): n for n in OPTIMIZERS}
    canonical = lookup.get(str(name).strip().lower())
    if canonical is None:
        raise UsageError(f"--optimizer: unknown optimizer {name!r}{suggest(str(name), OPTIMIZERS)}")
    return getattr(keras.optimizers, canonical)


def make_optimizer(name: str, params: dict):
    """The optimizer with exactly the given parameters (0 and False are kept, never defaulted)."""
    cls = optimizer_class(name)
    _check_parameters(cls, params, cls.__name__, "--optimizer")
    defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
    # momentum=0 means 0.0: Keras insists on floats where its default is one.
    params = {k: float(v) if isinstance(defaults.get(k), float) and type(v) is int else v for k, v in params.items()}
    # Keras would number the name per process ("adam_13"), and the weights file stores it: a fixed name keeps
    # weights byte-identical however many models the process built before (a search's refit, a notebook).
    params.setdefault("name", cls.__name__.lower())
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--optimizer: {cls.__name__}: {first_line(exc)}") from None


def callback_class(name: str):
    import keras

    if name not in CALLBACKS:
        hint = " (write the history with train-eval --history-out)" if name == "CSVLogger" else ""
        raise UsageError(
            f"--callback: unsupported callback {name!r}{suggest(name, CALLBACKS)}{hint}; choose from "
            f"{', '.join(CALLBACKS)}"
        )
    return getattr(keras.callbacks, name)


def check_callback(spec: dict) -> None:
    cls = callback_class(spec.get("class_name", ""))
    _check_parameters(cls, spec.get("config", {}), spec["class_name"], "--callback")


def make_callback(spec: dict):
    check_callback(spec)
    cls = callback_class(spec["class_name"])
    try:
        return cls(**spec.get("config", {}))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--callback: {spec['class_name']}: {first_line(exc)}") from None
