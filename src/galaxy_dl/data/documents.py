"""JSON and YAML documents parsed with bounded nesting and bounded alias expansion.

A document nested 100,000 levels deep would end the parsers (and every walker after them) in a
RecursionError, and a YAML "billion laughs" expands a few lines into billions of values once it is
walked; both are refused in one line before anything else reads the document.
"""

import json

from galaxy_dl.errors import first_line
from galaxy_dl.limits import MAX_DOCUMENT_NODES, MAX_NESTING


def _too_deep(source: str, error: type):
    return error(f"nested more than {MAX_NESTING} levels deep", source=source)


def check_nesting(value, source: str, error: type) -> None:
    """Refuse lists and mappings nested deeper than MAX_NESTING (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_NESTING:
                    raise _too_deep(source, error)
                stack.append((child, depth + 1))


def parse_json(text: str | bytes, source: str, error: type, what: str = "JSON"):
    """``json.loads`` with the nesting checked; a syntax error names line and column."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(source, error) from None
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text", source=source) from None
    except json.JSONDecodeError as exc:
        raise error(
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", source=source
        ) from None
    check_nesting(value, source, error)
    return value


def parse_yaml(stream, source: str, error: type):
    """``yaml.safe_load`` (data only, no tags) with the nesting and the expanded size checked first."""
    import yaml

    try:
        loader = _loader()(stream)  # its reader already refuses control characters
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML/JSON: {first_line(exc)}", source=source) from None
    try:
        try:
            node = loader.get_single_node()
        except (RecursionError, _TooDeep):
            raise _too_deep(source, error) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise error(f"not valid YAML/JSON{where}: {getattr(exc, 'problem', None) or exc}", source=source) from None
        if node is None:
            return None
        if _expanded_size(node) > MAX_DOCUMENT_NODES:
            raise error(
                f"expands to more than {MAX_DOCUMENT_NODES:,} values through its aliases (a 'billion laughs'?)",
                source=source,
            )
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise error(f"not valid YAML/JSON: {getattr(exc, 'problem', None) or exc}", source=source) from None
    finally:
        loader.dispose()


class _TooDeep(Exception):
    pass


def _loader():
    """A SafeLoader that stops composing past MAX_NESTING levels (made on first use: yaml loads lazily)."""
    import yaml

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent, index):
            if self.depth >= MAX_NESTING:
                raise _TooDeep  # at once: PyYAML's scanner slows quadratically with the nesting
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return Loader


def _expanded_size(root) -> int:
    """How many values the node graph holds once every alias is expanded (a shared node counted at each use);
    an alias inside its own anchor (a cycle) counts as unbounded."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack = [(root, False)]
    while stack:  # depth-first, each node's size once all of its children's are known
        node, children_done = stack.pop()
        if children_done:
            open_nodes.discard(id(node))
            total = 1 + sum(sizes[id(child)] for child in _children(node, yaml))
            sizes[id(node)] = min(total, MAX_DOCUMENT_NODES + 1)
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            return MAX_DOCUMENT_NODES + 1
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in _children(node, yaml):
            if id(child) in open_nodes:
                return MAX_DOCUMENT_NODES + 1
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node, yaml) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
