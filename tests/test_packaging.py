"""What is shipped beside the package agrees with it: the Bioconda recipe, and the tools' test data where Galaxy looks."""

import re
import tomllib

from tests.conftest import ROOT


def test_recipe_matches_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    recipe = (ROOT / "recipe" / "meta.yaml").read_text()
    assert re.search(r'{% set version = "([^"]+)" %}', recipe).group(1) == project["version"]
    entry_points = dict(re.findall(r"^    - ([a-z-]+) = (\S+)$", recipe, re.M))
    assert entry_points == project["scripts"]
    commands = re.findall(r"^    - ([a-z-]+) --help$", recipe, re.M)
    assert sorted(commands) == sorted(project["scripts"])


def test_tool_test_data_is_at_or_below_the_tools():
    """Galaxy looks for test inputs in tool_xml/test-data, never beside tool_xml/."""
    link = ROOT / "tool_xml" / "test-data"
    assert link.is_dir() and link.resolve() == (ROOT / "test-data").resolve()
