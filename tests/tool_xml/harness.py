"""Run Galaxy tool tests offline: render <command> with Cheetah as Galaxy would, run it, verify outputs.

What Galaxy does and this mirrors (see shared docs): test params become typed nested state
(galaxy-tool-util's ``test_case_state`` + ``fill_static_defaults``); data inputs are opaque
``dataset_N.dat`` paths; text params are sanitised; booleans render their true/false values;
command newlines become spaces; profile >= 20.09 runs under ``set -e``; outputs exist before the
command runs; filtered outputs are dropped; exit codes go through the tool's <stdio>; outputs and
stdout/stderr are checked with galaxy-tool-util's own verify and assertion code.
"""

import os
import shutil
import string
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from galaxy.tool_util.output_checker import DETECTED_JOB_STATE, check_output
from galaxy.tool_util.parameters import fill_static_defaults, input_models_for_tool_source, test_case_state
from galaxy.tool_util.parser import get_tool_source
from galaxy.tool_util.verify import verify
from galaxy.tool_util.verify.asserts import verify_assertions
from galaxy.tool_util.verify.test_data import TestDataResolver
from galaxy.util.template import fill_template

# Galaxy's default text sanitizer: these characters are mapped, others outside VALID are dropped.
MAPPED = {">": "__gt__", "<": "__lt__", "'": "__sq__", '"': "__dq__", "[": "__ob__", "]": "__cb__",
          "{": "__oc__", "}": "__cc__", "@": "__at__", "\n": "__cn__", "\r": "__cr__", "\t": "__tc__", "#": "__pd__"}
VALID = set(string.ascii_letters + string.digits + " -=_.()/+*^,:?!")


class Namespace(dict):
    """Attribute access for conditionals, sections and repeat items, as Galaxy's wrappers give."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


@dataclass
class Value:
    """A scalar parameter: ``str()`` is what the template sees."""

    text: str
    raw: object = None

    def __str__(self):
        return self.text

    def __bool__(self):
        return bool(self.raw)

    def __eq__(self, other):
        return str(self) == str(other)

    def __hash__(self):
        return hash(self.text)


@dataclass
class Dataset:
    path: str
    ext: str
    name: str

    def __str__(self):
        return self.path

    @property
    def element_identifier(self):
        return self.name

    @property
    def file_name(self):
        return self.path

    def is_of_type(self, *extensions) -> bool:
        """Galaxy asks the datatype hierarchy; the tests name the type (ftype) itself, or bed for bed's subtypes."""
        return self.ext in extensions


@dataclass
class Job:
    tool_id: str
    command: str
    returncode: int
    stdout: str
    stderr: str
    state: str
    outputs: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)


def sanitize(text: str, param) -> str:
    sanitizer = param.find("sanitizer")
    if sanitizer is None:
        return "".join(MAPPED.get(c, c if c in VALID else "X") for c in text)
    valid_el = sanitizer.find("valid")
    valid = set(string.printable) if valid_el is not None and valid_el.get("initial") == "string.printable" else set(VALID)
    if valid_el is not None:
        for rm in valid_el.findall("remove"):
            valid.discard(rm.get("value"))
        for add in valid_el.findall("add"):
            valid.add(add.get("value"))
    invalid = sanitizer.get("invalid_char", "X")
    mapping_el = sanitizer.find("mapping")  # Galaxy: a valid character passes, else a mapped one is replaced
    mapped = {} if mapping_el is None or mapping_el.get("initial") == "none" else dict(MAPPED)
    if mapping_el is not None:
        for add in mapping_el.findall("add"):
            mapped[add.get("source")] = add.get("target")
        for rm in mapping_el.findall("remove"):
            mapped.pop(rm.get("source"), None)
    return "".join(c if c in valid else mapped.get(c, invalid) for c in text)


def filter_value(expression: str, state: dict):
    """Evaluate an output <filter> of the forms our tools use (``a['b']``, ``x == 'v'``, ``and``/``or``/``not``)
    over the nested state, without eval."""
    import ast

    def value(node):
        if isinstance(node, ast.Name):
            return state.get(node.id)
        if isinstance(node, ast.Subscript):
            base = value(node.value)
            return (base or {}).get(ast.literal_eval(node.slice))
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            equal = str(value(node.left)) == str(value(node.comparators[0]))
            return equal if isinstance(node.ops[0], ast.Eq) else not equal
        if isinstance(node, ast.BoolOp):
            results = [bool(value(v)) for v in node.values]
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not value(node.operand)
        raise ValueError(f"unsupported filter expression: {expression}")

    return value(ast.parse(expression, mode="eval").body)


class ToolRunner:
    def __init__(self, xml_path: Path, test_data: Path, bin_dir: Path):
        self.xml_path = Path(xml_path)
        self.source = get_tool_source(str(xml_path))
        self.bundle = input_models_for_tool_source(self.source)
        self.profile = self.source.parse_profile()
        self.tests = self.source.parse_tests_to_dict()["tests"]
        self.test_data = Path(test_data)
        self.bin_dir = Path(bin_dir)
        self.resolver = TestDataResolver(file_dirs=str(test_data))
        self.inputs_root = self.source.root.find("inputs")

    # --- state -> Cheetah namespace ----------------------------------------------------

    def _param(self, el, value, workdir: Path, counter: list):
        kind = el.get("type")
        if kind == "data":
            if not value:
                return None
            counter[0] += 1
            target = workdir / f"dataset_{counter[0]}.dat"  # opaque, suffix-less like Galaxy's
            shutil.copy(self.resolver.get_filename(value["path"]), target)
            return Dataset(str(target), value.get("filetype") or (el.get("format") or "data").split(",")[0], value["path"])
        if kind == "boolean":
            truth = bool(value) if value is not None else el.get("checked", "false").lower() in ("true", "yes")
            return Value(el.get("truevalue", "true") if truth else el.get("falsevalue", "false"), truth)
        if kind in ("select", "data_column") and isinstance(value, list):
            return Value(",".join(str(v) for v in value), value)
        options = el.find("options")
        if kind == "select" and options is not None and options.get("from_data_table"):
            return self._table_value(options.get("from_data_table"), value)
        if kind == "text":
            return Value(sanitize("" if value is None else str(value), el), value)
        if kind == "hidden":
            return Value("" if value is None else str(value), value)
        return Value("None" if value is None else str(value), value)

    def _table_value(self, table: str, value):
        """A select from a Galaxy data table: its row (``.fields``) read from the tool's test table config and
        .loc file, ``${__HERE__}`` expanded as Galaxy does."""
        import xml.etree.ElementTree as ET

        config = self.xml_path.parent / "tool_data_table_conf.xml.test"
        for table_el in ET.parse(config).getroot().findall("table"):
            if table_el.get("name") != table:
                continue
            columns = [c.strip() for c in table_el.findtext("columns").split(",")]
            loc = Path(table_el.find("file").get("path").replace("${__HERE__}", str(config.parent)))
            for line in loc.read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    row = dict(zip(columns, line.replace("${__HERE__}", str(loc.parent)).split("\t"), strict=True))
                    if row["value"] == value:
                        wrapped = Value(str(value), value)
                        wrapped.fields = Namespace(row)
                        return wrapped
        raise ValueError(f"{value!r} is not in the {table} data table of {config}")

    def _wrap(self, parent, state: dict, workdir: Path, counter: list) -> Namespace:
        ns = Namespace()
        for el in parent:
            if not isinstance(el.tag, str):
                continue
            name = el.get("name")
            if el.tag == "param":
                ns[name] = self._param(el, state.get(name), workdir, counter)
            elif el.tag == "conditional":
                sub = state.get(name) or {}
                test_el = el.find("param")
                test_name = test_el.get("name")
                test_value = sub.get(test_name)
                if test_value is None:
                    selected = test_el.find("option[@selected='true']")
                    first = test_el.find("option")
                    test_value = (selected if selected is not None else first).get("value") if first is not None else None
                when = el.find(f"when[@value='{test_value}']")
                inner = self._wrap(when if when is not None else [], sub, workdir, counter)
                inner[test_name] = self._param(test_el, test_value, workdir, counter)
                ns[name] = inner
            elif el.tag == "repeat":
                ns[name] = [self._wrap(el, item or {}, workdir, counter) for item in state.get(name) or []]
            elif el.tag == "section":
                ns[name] = self._wrap(el, state.get(name) or {}, workdir, counter)
        return ns

    def state(self, index: int) -> dict:
        test = self.tests[index]
        state = test_case_state(test, self.bundle.parameters, self.profile).tool_state.input_state
        return fill_static_defaults(state, self.bundle, float(self.profile))

    def _output_filtered_out(self, out_el, state: dict) -> bool:
        return any(not filter_value(flt.text.strip(), state) for flt in out_el.findall("filter"))

    def render(self, index: int, workdir: Path):
        state = self.state(index)
        counter = [0]
        ns = self._wrap(self.inputs_root, state, workdir, counter)
        outputs = {}
        for out_el in self.source.root.find("outputs").findall("data"):
            name = out_el.get("name")
            if self._output_filtered_out(out_el, state):
                continue
            path = workdir / f"galaxy_output_{name}.dat"
            path.touch()  # Galaxy creates outputs before the command runs
            outputs[name] = path
            ns[name] = Dataset(str(path), out_el.get("format"), name)
        ns.update({"__tool_directory__": str(self.xml_path.parent), "on_string": "data 1", "tool": Namespace(name=self.source.parse_name())})
        command = fill_template(self.source.parse_command(), context=ns, python_template_version="3")
        command = command.replace("\n", " ").replace("\r", " ").strip()
        if float(self.profile) >= 20.09:
            command = f"set -e; {command}"
        return command, outputs

    # --- run and verify ---------------------------------------------------------------

    def run(self, index: int, workdir: Path, command: str | None = None) -> Job:
        rendered, outputs = self.render(index, workdir)
        command = command or rendered
        env = {k: v for k, v in os.environ.items() if not k.startswith("GALAXY_")}
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["GALAXY_SLOTS"] = "1"
        proc = subprocess.run(["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
        exit_codes, regexes = self.source.parse_stdio()
        state, stdout, stderr, messages = check_output(regexes, exit_codes, proc.stdout, proc.stderr, proc.returncode)
        return Job(self.source.parse_id(), command, proc.returncode, stdout, stderr, state, outputs, messages)

    def check(self, index: int, job: Job) -> None:
        """Raise AssertionError where Galaxy's test would fail."""
        test = self.tests[index]
        expect_failure = test.get("expect_failure")
        ok = job.state == DETECTED_JOB_STATE.OK
        assert ok != bool(expect_failure), f"job state {job.state}, exit {job.returncode}: {job.stderr[-2000:]}"
        if test.get("expect_exit_code") is not None:
            assert job.returncode == int(test["expect_exit_code"]), job.returncode
        for stream, text in (("stdout", job.stdout), ("stderr", job.stderr)):
            if test.get(stream):
                verify_assertions(text.encode(), test[stream])
        if test.get("expect_num_outputs") is not None:
            assert len(job.outputs) == int(test["expect_num_outputs"]), sorted(job.outputs)
        if expect_failure:
            return
        for output in test["outputs"]:
            name = output["name"]
            assert name in job.outputs, f"output {name} was filtered out"
            content = job.outputs[name].read_bytes()
            attributes = dict(output["attributes"])
            verify(name, content, attributes, filename=output.get("value"), get_filename=self.resolver.get_filename)
