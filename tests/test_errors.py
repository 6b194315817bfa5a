import re
from pathlib import Path

from galaxy_dl.errors import DataError, ExitStatus, GalaxyDLError, ModelError, OutputError, TrainingError, UsageError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_exit_code_table_matches_the_code():
    text = README.read_text()
    section = text[text.index("## Exit codes"):]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.M)}
    assert documented == {int(status) for status in ExitStatus}


def test_each_error_type_has_its_own_exit_code():
    codes = {cls.exit_status for cls in (DataError, ModelError, TrainingError, OutputError, UsageError)}
    assert len(codes) == 5 and GalaxyDLError.exit_status == ExitStatus.ERROR


def test_message_carries_its_source():
    assert str(DataError("is empty", source="--x a.tsv")) == "--x a.tsv: is empty"
