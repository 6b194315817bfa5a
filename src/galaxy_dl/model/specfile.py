"""Read YAML or JSON spec and config files safely: data only, no tags, bounded (:mod:`galaxy_dl.data.documents`)."""

from galaxy_dl.data.documents import parse_yaml
from galaxy_dl.errors import UsageError


def load_spec(path: str, option: str) -> dict:
    source = f"{option} {path}"
    try:
        with open(path, encoding="utf-8") as fh:
            data = parse_yaml(fh, source, UsageError)
    except FileNotFoundError:
        raise UsageError("no such file", source=source) from None
    except UnicodeDecodeError:
        raise UsageError("not a UTF-8 text file", source=source) from None
    except OSError as exc:
        raise UsageError(f"cannot read: {exc.strerror}", source=source) from None
    if not isinstance(data, dict):
        raise UsageError("must be a mapping of keys to values", source=source)
    return data
