"""Every class of playbook mistake is reported as `file:line: message` before anything runs.

Each file under tests/data/playbooks/invalid/ starts with `# expect: LINE: TEXT`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.playbook import load_playbook

INVALID = Path(__file__).parent.parent / "data" / "playbooks" / "invalid"
CASES = sorted(INVALID.glob("*.yml"))


def _expectation(path: Path) -> tuple[int, str]:
    match = re.match(r"# expect: (\d+): (.*)", path.read_text().splitlines()[0])
    assert match, f"{path} must start with '# expect: LINE: TEXT'"
    return int(match.group(1)), match.group(2)


def test_there_is_an_invalid_case_per_error_class() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_invalid_playbook_is_refused_with_file_line_and_message(path: Path) -> None:
    line, text = _expectation(path)
    with pytest.raises(InputError) as caught:
        load_playbook(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert text in message
