"""The Jinja2 environment templates render in: sandboxed, immutable, Ansible's filters."""

from __future__ import annotations

import shlex
from typing import Any

import jinja2
import pytest

from engine.templating import render_text


def test_quote_filter_makes_one_shell_word_as_ansibles_does() -> None:
    value = "it's $(touch /tmp/x); `id` *"
    line = render_text("echo {{ value | quote }} {{ 8080 | quote }}", {"value": value})
    assert shlex.split(line) == ["echo", value, "8080"]


@pytest.mark.parametrize("template", [
    "{{ hostvars['lab1'].update({'x': 1}) }}",
    "{{ hostvars['lab1'].pop('address') }}",
    "{{ ports.append(22) }}",
    "{% set _ = ports.extend([22]) %}",
])
def test_templates_cannot_change_the_data_they_read(template: str) -> None:
    scope: dict[str, Any] = {"hostvars": {"lab1": {"address": "10.0.0.1"}}, "ports": [80]}
    with pytest.raises(jinja2.exceptions.SecurityError):
        render_text(template, scope)
    assert scope == {"hostvars": {"lab1": {"address": "10.0.0.1"}}, "ports": [80]}
