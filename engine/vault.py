"""Ansible Vault: the `!vault` values and vault-encrypted files the loaders read, decrypted
as they are loaded (formats 1.1 and 1.2: PBKDF2-SHA256, AES-256-CTR, HMAC-SHA256), with
the passwords the command line gave (`unlocked`). Every value decrypted is recorded
(`revealed`) so that every output hides it as a secret (engine/output/redaction.py).
"""

from __future__ import annotations

import contextlib
import hmac
import os
from binascii import Error as HexError
from binascii import unhexlify
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError, Location
from engine.lazy import VAULT_HEADER as HEADER
from engine.lazy import VAULT_PASSWORD_FILE_VARIABLE

DEFAULT_LABEL = "default"  # Ansible's vault id when none is given
ITERATIONS = 10_000        # Ansible's PBKDF2 rounds for format 1.1 and 1.2
HOW_TO_UNLOCK = ("pass --vault-password-file FILE, --vault-id LABEL@FILE or --ask-vault-pass "
                 "(or set ANSIBLE_VAULT_PASSWORD_FILE)")


@dataclass(frozen=True)
class VaultSecret:
    """One vault password and where it came from (for messages: never the password)."""

    label: str
    password: bytes = field(repr=False)
    source: str


@dataclass
class Keyring:
    """The vault passwords of one command, and what they decrypted so far."""

    secrets: Sequence[VaultSecret] = ()
    revealed: list[Any] = field(default_factory=list)

    def decrypt(self, envelope: str, at: Location) -> str:
        """The text of a vault envelope (`$ANSIBLE_VAULT;1.1;AES256` and hex lines)."""
        label, salt, tag, ciphertext = _parse(envelope, at)
        if not self.secrets:
            raise InputError(f"this value is encrypted with ansible-vault and no vault "
                             f"password was given; {HOW_TO_UNLOCK}", at)
        # Ansible tries the passwords of the envelope's vault id first, then every other
        for secret in sorted(self.secrets, key=lambda secret: secret.label != label):
            plain = _open(secret.password, salt, tag, ciphertext)
            if plain is not None:
                try:
                    return plain.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError("this vaulted value decrypts to bytes that are not UTF-8 "
                                     "text; encrypt text", at) from None
        tried = ", ".join(dict.fromkeys(secret.source for secret in self.secrets))
        encrypted = "" if label == DEFAULT_LABEL else f" (encrypted with vault id {label!r})"
        raise InputError(f"no vault password given decrypts this value{encrypted} (tried "
                         f"{tried}): a wrong password, or the value was changed after it was "
                         f"encrypted; {HOW_TO_UNLOCK} with the password it was encrypted with",
                         at)

    def reveal(self, value: Any) -> Any:
        """Record `value` (a decrypted value, or a document read from an encrypted file) as
        a secret, and return it."""
        self.revealed.append(value)
        return value


# One keyring per command rather than an argument: every loader (inventory files, vars
# dirs, vars files, roles, includes, -e @file) reads YAML through engine/yamlfile.py, which
# decrypts, and the passwords would otherwise travel through all of their signatures.
_keyring = Keyring()


@contextlib.contextmanager
def unlocked(keyring: Keyring) -> Iterator[Keyring]:
    """Loaders decrypt with `keyring` while this lasts (the CLI holds it for a command)."""
    global _keyring
    previous, _keyring = _keyring, keyring
    try:
        yield keyring
    finally:
        _keyring = previous


def current() -> Keyring:
    return _keyring


def forget() -> None:
    """Drop the passwords and plaintexts of the command that ended (engine/lazy.py)."""
    global _keyring
    _keyring = Keyring()


def revealed() -> list[Any]:
    """Every value decrypted so far in this command: each one is a secret."""
    return list(_keyring.revealed)


def decrypt_value(envelope: str, at: Location) -> str:
    """A `!vault` value, decrypted and recorded as a secret."""
    return str(_keyring.reveal(_keyring.decrypt(envelope, at)))


def decrypt_file(text: str, at: Location) -> str:
    """The plaintext of a file ansible-vault encrypted; the loader that parses it records
    the values it holds as secrets (`current().reveal`), not the text: its lines such as
    `---` would be masked everywhere."""
    return _keyring.decrypt(text, at)


def _parse(envelope: str, at: Location) -> tuple[str, bytes, bytes, bytes]:
    """The vault id, salt, HMAC and ciphertext of an envelope (Ansible's layout: a header,
    then the hex of "salt_hex\\nhmac_hex\\nciphertext_hex" in lines of 80)."""
    lines = envelope.strip().splitlines()
    header = [part.strip() for part in lines[0].split(";")] if lines else []
    if len(header) < 3 or header[0] != HEADER.rstrip(";"):
        raise InputError("not an ansible-vault value: it must start with a line like "
                         "$ANSIBLE_VAULT;1.1;AES256", at)
    version, cipher = header[1], header[2]
    if version not in ("1.1", "1.2"):
        raise InputError(f"vault format {version} is not supported; 1.1 and 1.2 are "
                         "(what ansible-vault writes since Ansible 2.4)", at)
    if cipher != "AES256":
        raise InputError(f"vault cipher {cipher} is not supported; only AES256 is "
                         "(re-encrypt with ansible-vault rekey)", at)
    label = header[3] if version == "1.2" and len(header) > 3 else DEFAULT_LABEL
    try:
        inner = unhexlify("".join(line.strip() for line in lines[1:]))
        salt, tag, ciphertext = (unhexlify(part) for part in inner.split(b"\n", 2))
    except (HexError, ValueError):
        raise InputError("this vaulted value is damaged (its body is not ansible-vault's "
                         "hex lines); encrypt it again with ansible-vault", at) from None
    return label, salt, tag, ciphertext


def _open(password: bytes, salt: bytes, tag: bytes, ciphertext: bytes) -> bytes | None:
    """The plaintext, or None when `password` is not the one (the HMAC does not match)."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives import hmac as crypto_hmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    derived = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt,
                         iterations=ITERATIONS).derive(password)
    cipher_key, hmac_key, counter = derived[:32], derived[32:64], derived[64:]
    signer = crypto_hmac.HMAC(hmac_key, hashes.SHA256())
    signer.update(ciphertext)
    if not hmac.compare_digest(signer.finalize(), tag):
        return None
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(counter)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return None


# --- where the passwords come from (the command line's options) ---

def load_secrets(password_files: Sequence[str], vault_ids: Sequence[str], ask: bool,
                 prompt: Callable[[str], str]) -> list[VaultSecret]:
    """The passwords of `--vault-id LABEL@SOURCE`, `--vault-password-file FILE` (and
    $ANSIBLE_VAULT_PASSWORD_FILE, as Ansible adds it) and `--ask-vault-pass`, in that
    order. SOURCE is a file or `prompt`; an executable file is run and its output is the
    password, as in Ansible."""
    found: list[VaultSecret] = []
    for vault_id in vault_ids:
        label, has_label, source = vault_id.partition("@")
        label, source = (label, source) if has_label else (DEFAULT_LABEL, label)
        if not label or not source:
            raise InputError(f"--vault-id {vault_id}: write LABEL@FILE, LABEL@prompt or FILE")
        if source == "prompt":
            found.append(_prompted(prompt, label, f"--vault-id {vault_id}"))
        else:
            found.append(_from_file(source, label, f"--vault-id {vault_id}"))
    environment_file = os.environ.get(VAULT_PASSWORD_FILE_VARIABLE)
    named = [(path, f"--vault-password-file {path}") for path in password_files]
    if environment_file:
        named.append((environment_file, f"{VAULT_PASSWORD_FILE_VARIABLE}={environment_file}"))
    found += [_from_file(path, DEFAULT_LABEL, source) for path, source in named]
    if ask:
        found.append(_prompted(prompt, DEFAULT_LABEL, "--ask-vault-pass"))
    return found


def _prompted(prompt: Callable[[str], str], label: str, source: str) -> VaultSecret:
    shown = "Vault password: " if label == DEFAULT_LABEL else f"Vault password ({label}): "
    password = prompt(shown)
    if not password:
        raise InputError(f"{source}: an empty vault password; type the password")
    return VaultSecret(label, password.encode("utf-8"), source)


def _from_file(path: str, label: str, source: str) -> VaultSecret:
    """A password file's text without surrounding whitespace (as Ansible strips it), or
    what an executable one prints."""
    import subprocess

    expanded = os.path.expanduser(path)
    if not os.path.isfile(expanded):
        raise InputError(f"{source}: no such file; give the file that holds the vault "
                         "password (or a script that prints it)")
    if os.access(expanded, os.X_OK):
        try:
            ran = subprocess.run([os.path.abspath(expanded)], capture_output=True, check=False,
                                 stdin=subprocess.DEVNULL, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise InputError(f"{source}: the password script did not run: {error}") from None
        if ran.returncode != 0:
            raise InputError(f"{source}: the password script exited {ran.returncode}: "
                             f"{ran.stderr.decode('utf-8', 'replace').strip()[-200:]}")
        password = ran.stdout.strip()
    else:
        try:
            with open(expanded, "rb") as file:
                password = file.read().strip()
        except OSError as error:
            raise InputError(f"{source}: cannot read it: {error.strerror}") from None
    if not password:
        raise InputError(f"{source}: the vault password is empty; put the password in it")
    return VaultSecret(label, password, source)
