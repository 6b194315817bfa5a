"""The Bioconda recipe's run requirements as pip requirement lines: deps.sh builds the Galaxy venv from them alone,
so `make galaxy-test` runs every tool test against what a conda install of the recipe would hold.

    python galaxy/recipe_requirements.py recipe/meta.yaml > requirements.txt
"""

import re
import sys
from pathlib import Path

PYPI_NAMES = {"matplotlib-base": "matplotlib"}  # conda-forge's name -> PyPI's


def run_requirements(recipe: str) -> dict[str, str]:
    """{conda name: version spec} of the recipe's ``requirements: run:`` list."""
    run = recipe.split("  run:\n", 1)[1].split("\n\n", 1)[0]
    return {name: spec for name, spec in re.findall(r"^    - ([A-Za-z0-9_.-]+) ?(\S*)$", run, re.M)}


def main(path: str) -> None:
    for name, spec in run_requirements(Path(path).read_text()).items():
        if name != "python":
            print(f"{PYPI_NAMES.get(name, name)}{spec}")


if __name__ == "__main__":
    main(sys.argv[1])
