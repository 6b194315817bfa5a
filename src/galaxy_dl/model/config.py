"""build-model's settings as data: the config-file keys, their types, and the parameter table.

A config file (YAML or JSON) may hold any of ``CONFIG_KEYS``; anything else is an error that
names the key and its closest valid spelling. Values are type-checked here so that what reaches
Keras is always of the expected shape.
"""

from galaxy_dl.errors import UsageError, suggest
from galaxy_dl.model.layerspec import LayerCall, parse_layer

NUMBER = (int, float)
CONFIG_TYPES = {
    "task": (str,),
    "loss": (str, dict, type(None)),
    "loss_weights": (dict, type(None)),
    "optimizer": (str,),
    "optimizer_params": (dict, type(None)),
    "metrics": (list, type(None)),
    "epochs": (int,),
    "batch_size": (int,),
    "validation_split": NUMBER,
    "steps_per_epoch": (int, type(None)),
    "validation_steps": (int, type(None)),
    "shuffle": (bool,),
    "class_weight": (str, dict, type(None)),
    "callbacks": (list, type(None)),
    "verbose": (str, int),
    "seed": (int, type(None)),
}
CONFIG_KEYS = tuple(CONFIG_TYPES)


def validate_config(config: dict, source: str) -> dict:
    """Check keys and value types; return the settings in estimator-parameter form."""
    if not isinstance(config, dict):
        raise UsageError("must be a mapping of settings", source=source)
    for key, value in config.items():
        if key not in CONFIG_TYPES:
            raise UsageError(f"unknown key {key!r}{suggest(str(key), CONFIG_KEYS)}", source=source)
        expected = CONFIG_TYPES[key]
        if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in expected)
            raise UsageError(f"{key} must be {names}, not {value!r}", source=source)
    settings = dict(config)
    if "metrics" in settings:
        settings["metrics"] = [str(m) for m in settings["metrics"] or []]
    if "callbacks" in settings:
        settings["callbacks"] = [callback_entry(c) for c in settings["callbacks"] or []]
    if isinstance(settings.get("class_weight"), str):
        settings["class_weight"] = class_weight(settings["class_weight"])
    elif isinstance(settings.get("class_weight"), dict):
        settings["class_weight"] = _weights(settings["class_weight"].items())
    if settings.get("optimizer_params") is not None:
        for name in settings["optimizer_params"]:
            if not isinstance(name, str):
                raise UsageError(f"optimizer_params: {name!r} is not a parameter name", source=source)
    return settings


def callback_entry(value) -> dict:
    """``'EarlyStopping(patience=3)'`` or ``{class_name, config}`` -> ``{class_name, config}``."""
    if isinstance(value, str):
        value = parse_layer(value)
    if isinstance(value, LayerCall):
        if value.args:
            raise UsageError(f"--callback {value.text!r}: give parameters as NAME=VALUE")
        return {"class_name": value.name, "config": dict(value.kwargs)}
    if (
        isinstance(value, dict)
        and isinstance(value.get("class_name"), str)
        and isinstance(value.get("config", {}), (dict, type(None)))
    ):
        return {"class_name": value["class_name"], "config": dict(value.get("config") or {})}
    raise UsageError(f"callback {value!r} must be 'Name(param=value)' or {{class_name: …, config: {{…}}}}")


def named_values(text: str, option: str, numeric: bool = True) -> dict:
    """``NAME=VALUE,…``: output names to non-negative weights, or with ``numeric=False`` to text (loss names)."""
    pairs: dict[str, float | str] = {}
    for part in text.split(","):
        name, sep, value = (p.strip() for p in part.partition("="))
        if not sep or not name or not value:
            raise UsageError(f"{option}: {part.strip()!r} is not NAME=VALUE")
        if numeric:
            try:
                number = float(value)
            except ValueError:
                raise UsageError(f"{option}: {value!r} for {name!r} is not a number") from None
            if not number >= 0:
                raise UsageError(f"{option}: {value!r} for {name!r} must be a non-negative number")
            pairs[name] = number
        else:
            pairs[name] = value
    return pairs


def _weights(pairs) -> dict:
    weights = {}
    for label, weight in pairs:
        if isinstance(weight, bool) or not isinstance(weight, NUMBER) or weight < 0:
            raise UsageError(f"--class-weight: weight {weight!r} for {label!r} is not a non-negative number")
        weights[str(label)] = float(weight)
    return weights


def class_weight(text: str):
    """``balanced`` or ``LABEL=WEIGHT,…``."""
    if text.strip() == "balanced":
        return "balanced"
    pairs = []
    for part in text.split(","):
        label, sep, weight = part.partition("=")
        try:
            value = float(weight)
        except ValueError:
            sep = ""
        if not sep or not label.strip():
            raise UsageError(f"--class-weight: {part!r} is not LABEL=WEIGHT")
        pairs.append((label.strip(), value))
    return _weights(pairs)


def params_table(estimator):
    """The estimator's parameters as a two-column table (Galaxy-ML's hyper-parameter table); a search's
    chosen values follow as ``search: NAME`` rows."""
    import json

    import pandas as pd

    params = estimator.get_params()
    params.pop("architecture")
    rows = [{"parameter": "task", "value": estimator.task}]

    def cell(value):
        return value if isinstance(value, str) else json.dumps(value)

    rows += [{"parameter": k, "value": cell(v)} for k, v in sorted(params.items())]
    rows += [
        {"parameter": f"search: {k}", "value": cell(v)}
        for k, v in (getattr(estimator, "best_params_", None) or {}).items()
    ]
    rows += [{"parameter": f"sequence: {k}", "value": cell(v)} for k, v in _sequence_rows(estimator)]
    return pd.DataFrame(rows)


def _sequence_rows(estimator) -> list:
    """A sequence model's encoding, as predict will apply it (learned in training, kept in the fitted archive)."""
    encoding = getattr(estimator, "encoding_", None)
    if not encoding:
        return []
    kind = encoding["kind"] + (f":{encoding['k']}" if encoding["kind"] == "kmer" else "")
    rows = [
        ("encoding", kind),
        ("alphabet", encoding["alphabet"]),
        ("length", encoding["length"]),
        ("length rule", encoding["rule"]),
        ("side", encoding["side"]),
    ]
    if encoding["vocabulary"] is not None:
        rows += [("vocabulary size", len(encoding["vocabulary"])), ("vocabulary", encoding["vocabulary"])]
    return rows
