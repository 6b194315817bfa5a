"""What is shipped beside the package agrees with it: the Bioconda recipe, and the tools' test data where Galaxy looks."""

import re
import runpy
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


def test_recipe_requires_what_every_option_needs():
    """The recipe's run requirements are the package's, the jax extra included (the Galaxy form offers --backend
    jax): a Galaxy that resolves galaxy-dl through conda gets every reader and backend the forms offer."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda_names = {"matplotlib": "matplotlib-base"}
    wanted = {}
    for text in project["dependencies"] + project["optional-dependencies"]["jax"]:
        requirement = Requirement(text)
        wanted[conda_names.get(requirement.name, requirement.name)] = ",".join(sorted(str(requirement.specifier).split(",")))
    recipe = runpy.run_path(str(ROOT / "galaxy" / "recipe_requirements.py"))  # what deps.sh installs from
    listed = {name: ",".join(sorted(spec.split(",")))
              for name, spec in recipe["run_requirements"]((ROOT / "recipe" / "meta.yaml").read_text()).items()}
    assert listed.pop("python") == ">=3.11"
    assert listed == wanted


def test_tool_test_data_is_at_or_below_the_tools():
    """Galaxy looks for test inputs in tool_xml/test-data, never beside tool_xml/."""
    link = ROOT / "tool_xml" / "test-data"
    assert link.is_dir() and link.resolve() == (ROOT / "test-data").resolve()
