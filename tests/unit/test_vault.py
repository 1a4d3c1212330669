"""Ansible Vault: `!vault` values and encrypted files, decrypted as they load, hidden
everywhere a run writes.

The fixtures in tests/data/vault/ were made with the real ansible-vault (ansible-core
2.19.14, in a throwaway venv: `python3 -m venv /tmp/av && /tmp/av/bin/pip install
ansible-core`), from that folder:

    ansible-vault encrypt_string --vault-password-file password.txt \\
        --name db_password 'inventory-s3cret'                 # inventory.yml (1.1)
    ansible-vault encrypt_string --vault-id dev@dev-password.txt \\
        --name api_token 'play-vars-t0ken'                    # playbook.yml (1.2, "dev")
    ansible-vault encrypt --vault-password-file password.txt group_vars/web.yml  # 1.1
    ansible-vault encrypt --vault-id dev@dev-password.txt vars/secrets.yml       # 1.2
    ansible-vault encrypt --vault-password-file password.txt encrypted-inventory.yml

group_vars/web.yml held `web_api_key: group-vars-k3y` and `web_tls_port: 8443`;
vars/secrets.yml held `smtp_password: vars-file-m4il`; encrypted-inventory.yml a host db1
(`connection: local`) with `db_root_password: encrypted-inventory-r00t`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine import vault
from engine.errors import InputError, Location
from engine.inventory import load_inventory
from engine.output.inventory import host_vars_json
from engine.output.redaction import MASK, secret_values
from engine.playbook import load_playbook
from engine.variables import load_vars_files
from engine.yamlfile import load_yaml

ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data" / "vault"
PASSWORD = vault.VaultSecret("default", b"correct horse battery", "--vault-password-file p")
DEV = vault.VaultSecret("dev", b"dev-only-pass", "--vault-id dev@d")
PLAINTEXTS = ("inventory-s3cret", "play-vars-t0ken", "vars-file-m4il", "group-vars-k3y")
UNLOCK = ("--vault-password-file", str(DATA / "password.txt"),
          "--vault-id", f"dev@{DATA / 'dev-password.txt'}")


@pytest.fixture
def keyring() -> Iterator[vault.Keyring]:
    with vault.unlocked(vault.Keyring([PASSWORD, DEV])) as unlocked:
        yield unlocked


class _AsWritten(yaml.SafeLoader):
    """Reads a `!vault` value as the envelope written, without decrypting it."""


_AsWritten.add_constructor("!vault", lambda loader, node: node.value)


def _envelope(path: Path, key: str) -> str:
    document = yaml.load(path.read_text(), Loader=_AsWritten)
    found = document[0]["vars"] if isinstance(document, list) else \
        document["all"]["children"]["web"]["vars"]
    return str(found[key])


def test_format_1_1_value_decrypts_with_its_password() -> None:
    keyring = vault.Keyring([PASSWORD])
    assert keyring.decrypt(_envelope(DATA / "inventory.yml", "db_password"),
                           Location("x")) == "inventory-s3cret"


def test_format_1_2_value_decrypts_with_the_password_of_its_vault_id() -> None:
    envelope = _envelope(DATA / "playbook.yml", "api_token")
    assert envelope.startswith("$ANSIBLE_VAULT;1.2;AES256;dev\n")
    # the other password is tried too (Ansible tries the matching id first, then all)
    assert vault.Keyring([PASSWORD, DEV]).decrypt(envelope, Location("x")) == "play-vars-t0ken"
    unlabelled = vault.VaultSecret("default", DEV.password, "f")
    assert vault.Keyring([unlabelled]).decrypt(envelope, Location("x")) == "play-vars-t0ken"


def test_wrong_password_is_refused_with_where_and_what_to_pass() -> None:
    keyring = vault.Keyring([vault.VaultSecret("default", b"guess", "--vault-password-file g")])
    with pytest.raises(InputError) as error:
        keyring.decrypt(_envelope(DATA / "playbook.yml", "api_token"), Location("p.yml", 7))
    assert error.value.location == Location("p.yml", 7)
    assert "tried --vault-password-file g" in error.value.message
    assert "vault id 'dev'" in error.value.message
    assert "--vault-password-file FILE" in error.value.message


def test_tampered_ciphertext_fails_its_hmac() -> None:
    envelope = _envelope(DATA / "inventory.yml", "db_password")
    header, *body = envelope.splitlines()
    last = body[-1]
    # the ciphertext's last hex digit ("30" is "0" in the outer hex) changed: still
    # valid hex, no longer what was signed
    body[-1] = last[:-2] + ("30" if last[-2:] != "30" else "31")
    with pytest.raises(InputError, match="changed after it was encrypted"):
        vault.Keyring([PASSWORD]).decrypt("\n".join([header, *body]), Location("x"))


def test_damaged_or_foreign_envelopes_are_refused() -> None:
    keyring = vault.Keyring([PASSWORD])
    with pytest.raises(InputError, match="damaged"):
        keyring.decrypt("$ANSIBLE_VAULT;1.1;AES256\nnot hex\n", Location("x"))
    with pytest.raises(InputError, match=r"format 1\.0 is not supported"):
        keyring.decrypt("$ANSIBLE_VAULT;1.0;AES\n00\n", Location("x"))
    with pytest.raises(InputError, match="cipher AES is not supported"):
        keyring.decrypt("$ANSIBLE_VAULT;1.1;AES\n00\n", Location("x"))


def test_vaulted_value_without_a_password_is_refused_at_its_line() -> None:
    with vault.unlocked(vault.Keyring()), pytest.raises(InputError) as error:
        load_inventory([DATA / "inventory.yml"])
    assert error.value.location == Location(str(DATA / "inventory.yml"), 11)
    assert "no vault password was given" in error.value.message
    assert "--ask-vault-pass" in error.value.message


def test_vaulted_inventory_var_and_encrypted_group_vars_reach_the_host(
        keyring: vault.Keyring) -> None:
    host = load_inventory([DATA / "inventory.yml"]).hosts["app1"]
    assert host.vars["db_password"] == "inventory-s3cret"
    assert host.vars["web_api_key"] == "group-vars-k3y"
    assert host.vars["web_tls_port"] == 8443
    assert host.vars["db_user"] == "app"


def test_inventory_listing_masks_every_vaulted_value(keyring: vault.Keyring) -> None:
    shown = host_vars_json(load_inventory([DATA / "inventory.yml"]), "app1")
    assert shown["db_password"] == shown["web_api_key"] == shown["web_tls_port"] == MASK
    assert shown["db_user"] == "app"


def test_encrypted_vars_file_and_vaulted_play_vars_load(keyring: vault.Keyring) -> None:
    assert load_vars_files([str(DATA / "vars" / "secrets.yml")]) == {
        "smtp_password": "vars-file-m4il"}
    play = load_playbook(DATA / "playbook.yml").plays[0]
    assert play.vars["api_token"] == "play-vars-t0ken"


def test_an_encrypted_yaml_inventory_loads_and_an_encrypted_ini_one_is_refused(
        keyring: vault.Keyring, tmp_path: Path) -> None:
    inventory = load_inventory([DATA / "encrypted-inventory.yml"])
    assert inventory.hosts["db1"].vars["db_root_password"] == "encrypted-inventory-r00t"
    assert "encrypted-inventory-r00t" in secret_values({})
    ini = tmp_path / "hosts.ini"
    ini.write_text((DATA / "encrypted-inventory.yml").read_text())
    with pytest.raises(InputError, match="read as YAML only"):
        load_inventory([ini])


def test_every_decrypted_value_is_a_secret_of_every_scope(keyring: vault.Keyring) -> None:
    load_inventory([DATA / "inventory.yml"])
    assert {"inventory-s3cret", "group-vars-k3y", "8443"} <= secret_values({})
    assert "app" not in secret_values({})


def test_a_vault_tag_on_a_mapping_is_refused(keyring: vault.Keyring) -> None:
    with pytest.raises(InputError, match="not a list or mapping") as error:
        load_yaml("a: 1\nb: !vault {x: 1}\n", "v.yml")
    assert error.value.location == Location("v.yml", 2)


def test_password_sources_in_ansibles_order(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plain").write_text("  from-file \n")
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho from-script\n")
    script.chmod(0o755)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(script))
    secrets = vault.load_secrets([str(tmp_path / "plain")], [f"prod@{tmp_path / 'plain'}",
                                                             "ask@prompt"], True,
                                 lambda shown: f"typed {shown}")
    assert [(secret.label, secret.password) for secret in secrets] == [
        ("prod", b"from-file"), ("ask", b"typed Vault password (ask): "),
        ("default", b"from-file"), ("default", b"from-script"),
        ("default", b"typed Vault password: ")]


def test_unusable_password_sources_are_refused(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    (tmp_path / "empty").write_text("\n")
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho nope >&2\nexit 3\n")
    failing.chmod(0o755)
    cases = {"empty": "is empty", "missing": "no such file", "failing": "exited 3: nope"}
    for name, message in cases.items():
        with pytest.raises(InputError, match=message):
            vault.load_secrets([str(tmp_path / name)], [], False, input)
    with pytest.raises(InputError, match="LABEL@FILE"):
        vault.load_secrets([], ["dev@"], False, input)


def _play(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *arguments], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)


def test_run_without_the_vault_password_exits_4_naming_the_file_and_line(
        tmp_path: Path) -> None:
    result = _play(str(DATA / "playbook.yml"), "-i", str(DATA / "inventory.yml"),
                   "--vault-password-file", str(DATA / "password.txt"),
                   "-e", f"out_dir={tmp_path}")
    assert result.returncode == 4
    assert f"{DATA / 'playbook.yml'}:7: no vault password given decrypts" in result.stderr
    assert "--vault-id LABEL@FILE" in result.stderr


def test_vaulted_values_reach_the_file_and_never_the_output(tmp_path: Path) -> None:
    common = (str(DATA / "playbook.yml"), "-i", str(DATA / "inventory.yml"), *UNLOCK,
              "-e", f"out_dir={tmp_path}", "--diff")
    traced = _play(*common, "-vv")
    assert traced.returncode == 0, traced.stdout + traced.stderr
    written = (tmp_path / "secrets.env").read_text()
    for plaintext in (*PLAINTEXTS, "8443"):
        assert plaintext in written
    (tmp_path / "secrets.env").unlink()
    events = _play(*common, "--json")
    assert events.returncode == 0, events.stdout + events.stderr
    assert [json.loads(line)["event"] for line in events.stdout.splitlines()][-1] == "recap"
    for output in (traced.stdout, traced.stderr, events.stdout, events.stderr):
        assert MASK in output or output == ""
        for plaintext in PLAINTEXTS:
            assert plaintext not in output
    assert "the token is ********" in traced.stdout
    assert "DB_USER=app" in traced.stdout  # a plain value stays visible


def test_a_vaulted_value_in_a_services_meta_never_reaches_a_registry_record(
        keyring: vault.Keyring) -> None:
    from engine.containers.services import refuse_secrets
    from engine.registry import Instance

    load_inventory([DATA / "inventory.yml"])  # decrypts db_password

    def record(meta: dict[str, str], tags: tuple[str, ...] = ()) -> Instance:
        return Instance(service="api", instance="api-h1", host="h1", address="10.0.0.1",
                        port=80, tags=tags, meta=meta, container="api", image_id="sha256:1",
                        registered_at="2026-01-01T00:00:00Z")

    refuse_secrets(record({"version": "2"}), {})
    for bad in (record({"dsn": "postgres://app:inventory-s3cret@db/app"}),
                record({}, ("inventory-s3cret",))):
        with pytest.raises(ValueError, match="registry records are no place for secrets"):
            refuse_secrets(bad, {})
    listed = {"secret_vars": ["token"], "token": "listed-t0ken"}
    with pytest.raises(ValueError, match="hold a secret"):
        refuse_secrets(record({"t": "listed-t0ken"}), listed)
