"""Every tool in tool_xml/ lints clean with galaxy-tool-util and passes its own <tests>, offline."""

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("galaxy.tool_util")

from galaxy.tool_util.lint import LintContext, LintLevel, XMLLintMessageLine, lint_tool_source_with
from galaxy.tool_util.loader_directory import looks_like_a_tool

from galaxy_dl import __version__
from tests.tool_xml.harness import ToolRunner

ROOT = Path(__file__).resolve().parents[2]
TOOL_DIR = ROOT / "tool_xml"
TEST_DATA = ROOT / "tool_xml" / "test-data"  # where Galaxy looks: at or below the tools (a link to test-data/)
BIN = Path(sys.executable).parent
TOOLS = sorted(p for p in TOOL_DIR.glob("*.xml") if looks_like_a_tool(str(p)))
EXPECTED = {"build_arch.xml", "build_model.xml", "train_eval.xml", "predict.xml", "plot_cm.xml", "plot_reg.xml"}

_runners = {}


def runner(path: Path) -> ToolRunner:
    if path not in _runners:
        _runners[path] = ToolRunner(path, TEST_DATA, BIN)
    return _runners[path]


def tool_tests():
    for path in TOOLS:
        for index in range(len(runner(path).tests)):
            yield pytest.param(path, index, id=f"{path.stem}-{index + 1}")


def test_every_tool_exists():
    assert {p.name for p in TOOLS} == EXPECTED


@pytest.mark.parametrize("path", TOOLS, ids=lambda p: p.stem)
def test_lints_clean(path):
    ctx = LintContext(level=LintLevel.SILENT, lint_message_class=XMLLintMessageLine, skip_types=["BioToolsValid"])
    lint_tool_source_with(ctx, runner(path).source)
    messages = [str(m) for m in ctx.error_messages + ctx.warn_messages]
    assert not ctx.failed(LintLevel.WARN) and not messages, messages


def test_version_token_is_the_package_version():
    macros = (TOOL_DIR / "macros.xml").read_text()
    assert re.search(r'<token name="@TOOL_VERSION@">([^<]+)</token>', macros).group(1) == __version__


@pytest.mark.parametrize("path", TOOLS, ids=lambda p: p.stem)
def test_every_tool_has_tests_and_their_files_exist(path):
    r = runner(path)
    assert r.tests, f"{path.name} has no <tests>"
    for test in r.tests:
        for test_input in test["inputs"]:
            values = test_input.get("value")
            values = values if isinstance(values, list) else [values]
            if test_input.get("attributes", {}).get("ftype"):
                for value in values:
                    assert (TEST_DATA / value).is_file(), value


@pytest.mark.tool_test
@pytest.mark.parametrize("path, index", list(tool_tests()))
def test_tool_test_passes(path, index, tmp_path):
    r = runner(path)
    job = r.run(index, tmp_path)
    r.check(index, job)


def test_a_renamed_cli_flag_fails_the_tool_test(tmp_path):
    """The harness really runs the CLI: a flag the programs do not know fails the test."""
    r = runner(TOOL_DIR / "build_model.xml")
    command, _ = r.render(0, tmp_path)
    assert "--batch-size" in command
    job = r.run(0, tmp_path, command=command.replace("--batch-size", "--batch-sz"))
    with pytest.raises(AssertionError):
        r.check(0, job)
    assert job.returncode == 2
