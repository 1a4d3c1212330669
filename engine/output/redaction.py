"""Which values are secrets, and how every writer hides them: the values of the variables a
`secret_vars` list names, of the become and connection passwords (secrets without being
listed, as in Ansible) and every value ansible-vault encrypted, replaced by a mask in each
of the forms they can take in output.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from engine.errors import InputError
from engine.lazy import loaded_vault
from engine.nested import leaves
from engine.templating import template_errors

MASK = "********"
# Secrets whether or not `secret_vars` lists them: sudo's password (play's name and
# Ansible's two spellings) and Ansible's SSH password variables, which an Ansible
# inventory read unchanged may hold.
SECRET_VARIABLES = frozenset({"become_password", "ansible_become_password",
                              "ansible_become_pass", "ssh_password", "ansible_password",
                              "ansible_ssh_pass", "ansible_ssh_password"})
MIN_SECRET = 3  # masking "1" or "no" everywhere would garble every line


def secret_names(variables: Mapping[str, Any]) -> set[str]:
    """The always-secret names and those the `secret_vars` of `variables` lists."""
    listed = variables.get("secret_vars") or []
    names = [listed] if isinstance(listed, str) else listed
    return set(SECRET_VARIABLES) | {str(name) for name in names
                                    if isinstance(name, (str, int))}


def secret_values(variables: Mapping[str, Any]) -> set[str]:
    """The values of the secret variables in `variables` (a host's scope, rendered when it
    is a lazy `Scope`; a value that cannot render is hidden as written), and every value
    decrypted from a vault so far."""
    found = vaulted_values()
    for name in secret_names(variables):
        if name not in variables:
            continue
        try:
            value = variables[name]
        except template_errors(InputError):
            raw = getattr(variables, "raw", None)
            value = raw(name) if raw is not None else None
        found.update(leaf_strings(value))
    return found


def vaulted_values() -> set[str]:
    """Every `!vault` value and every value of an encrypted file that was loaded."""
    vault = loaded_vault()  # not loaded: nothing was decrypted (engine/lazy.py)
    if vault is None:
        return set()
    return {text for value in vault.revealed() for text in leaf_strings(value)}


def leaf_strings(value: Any) -> Iterator[str]:
    """The strings (and numbers, as text) inside `value`, long enough to mask; not mapping
    keys (a secret mapping's key names are no secret: masking "password" would blind logs)."""
    for _, leaf in leaves(value, keys=False):
        if isinstance(leaf, (str, int, float)) and not isinstance(leaf, bool):
            text = str(leaf)
            if len(text) >= MIN_SECRET:
                yield text


def forms(secret: str) -> Iterator[str]:
    """Every form a secret can take in output: as it is; each line of a multi-line one (a
    PEM key in a diff comes out one `+line` at a time); escaped by repr() (an error message
    that quotes a value) or by JSON."""
    pieces = [secret]
    if "\n" in secret:
        pieces += [line.strip() for line in secret.splitlines()
                   if len(line.strip()) >= MIN_SECRET]
    for piece in pieces:
        yield piece
        yield repr(piece)[1:-1]
        yield json.dumps(piece)[1:-1]
        yield json.dumps(piece, ensure_ascii=False)[1:-1]


class Redactor:
    """Replaces every form of every secret by a mask, longest first (a secret may contain
    another)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        every = {form for secret in secrets if secret for form in forms(secret)}
        self.secrets = sorted((form for form in every if len(form) >= MIN_SECRET),
                              key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def value(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value

    def contains_secret(self, value: str) -> bool:
        return any(secret in value for secret in self.secrets)
