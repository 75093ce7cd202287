"""The README's code runs, its generated blocks are current, and CI runs its test command."""

import re
from pathlib import Path

import pytest

from experiments import docs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PY_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_python_examples():
    assert len(PY_BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(PY_BLOCKS)))
def test_readme_python_block_runs(index, capsys):
    exec(compile(PY_BLOCKS[index], f"README.md block {index}", "exec"), {"__name__": "readme"})
    assert "alpha" in capsys.readouterr().out or index == 0


def test_generated_blocks_are_current():
    assert docs.refresh(README) == README, "run `python -m experiments.docs` and commit README.md"


def test_registry_table_lists_every_activation():
    import jaxact

    table = docs.block(README, "registry")
    for name in jaxact.names():
        assert f"| `{name}` |" in table


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(python3 -m venv .*?)\n```", README)
    assert len(commands) == 2, "the README holds exactly two set-up commands"
    install_and_run, install_and_test = commands
    assert "experiments.sweep" in install_and_run
    assert install_and_test in (ROOT / ".ci" / "run").read_text()
