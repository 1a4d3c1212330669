"""crypt(3)'s SHA-256 and SHA-512 password hashes (`$5$`, `$6$`), for the `password_hash`
filter: Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" specification, with
hashlib. Python's own `crypt` module is deprecated and gone in 3.13; passlib is not a
dependency. Checked against the specification's test vectors and glibc's crypt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DEFAULT_ROUNDS = 5000  # left out of the hash text, as crypt(3) does
MIN_ROUNDS, MAX_ROUNDS = 1000, 999_999_999

# The order in which the final digest's bytes are encoded, three at a time (the spec's).
_SHA512_ORDER = ((0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26),
                 (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10),
                 (53, 11, 32), (12, 33, 54), (34, 55, 13), (56, 14, 35), (15, 36, 57),
                 (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41))
_SHA256_ORDER = ((0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14), (15, 25, 5),
                 (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29))

# scheme -> (identifier, hash function, byte order, last bytes and their character count)
SCHEMES: dict[str, tuple[str, Callable[..., hashlib._Hash], tuple[tuple[int, int, int], ...],
                         tuple[tuple[int, int, int], int]]] = {
    "sha512_crypt": ("6", hashlib.sha512, _SHA512_ORDER, ((-1, -1, 63), 2)),
    "sha256_crypt": ("5", hashlib.sha256, _SHA256_ORDER, ((-1, 31, 30), 3)),
}


def _encode(digest: bytes, order: tuple[tuple[int, int, int], ...],
            last: tuple[tuple[int, int, int], int]) -> str:
    characters: list[str] = []

    def add(first: int, second: int, third: int, count: int) -> None:
        word = (first << 16) | (second << 8) | third
        for _ in range(count):
            characters.append(_ALPHABET[word & 0x3F])
            word >>= 6

    for high, middle, low in order:
        add(digest[high], digest[middle], digest[low], 4)
    (high, middle, low), count = last  # -1: no byte there, a zero
    add(digest[high] if high >= 0 else 0, digest[middle] if middle >= 0 else 0, digest[low],
        count)
    return "".join(characters)


def _repeated(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def sha_crypt(password: str, salt: str, scheme: str, rounds: int | None = None) -> str:
    """The crypt(3) text of `password`: `$6$salt$hash` or `$6$rounds=N$salt$hash`. A salt
    longer than 16 characters is cut to 16; rounds are clamped to 1000..999999999."""
    ident, new, order, last = SCHEMES[scheme]
    secret, seasoning = password.encode("utf-8"), salt[:16].encode("ascii")
    count = DEFAULT_ROUNDS if rounds is None else min(max(int(rounds), MIN_ROUNDS), MAX_ROUNDS)

    alternate = new(secret + seasoning + secret).digest()
    first = new(secret + seasoning)
    first.update(_repeated(alternate, len(secret)))
    length = len(secret)
    while length:
        first.update(alternate if length & 1 else secret)
        length >>= 1
    digest = first.digest()

    secret_sequence = _repeated(new(secret * len(secret)).digest(), len(secret))
    salt_sequence = _repeated(new(seasoning * (16 + digest[0])).digest(), len(seasoning))
    for round_number in range(count):
        step = new(secret_sequence if round_number & 1 else digest)
        if round_number % 3:
            step.update(salt_sequence)
        if round_number % 7:
            step.update(secret_sequence)
        step.update(digest if round_number & 1 else secret_sequence)
        digest = step.digest()
    rounds_text = "" if rounds is None else f"rounds={count}$"  # as glibc writes it
    return f"${ident}${rounds_text}{seasoning.decode()}${_encode(digest, order, last)}"
