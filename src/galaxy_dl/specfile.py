"""Read YAML or JSON spec and config files safely (``yaml.safe_load``: data only, no tags)."""

from .errors import UsageError


def load_spec(path: str, option: str) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise UsageError("no such file", source=f"{option} {path}") from None
    except UnicodeDecodeError:
        raise UsageError("not a UTF-8 text file", source=f"{option} {path}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UsageError(f"not valid YAML/JSON{where}: {getattr(exc, 'problem', None) or exc}", source=f"{option} {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read: {exc.strerror}", source=f"{option} {path}") from None
    if not isinstance(data, dict):
        raise UsageError("must be a mapping of keys to values", source=f"{option} {path}")
    return data
