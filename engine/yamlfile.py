"""Safe YAML loading that remembers where every mapping key and list item was written.

Loaders (inventory, playbook, vars files) parse with `load_yaml` and get plain
dicts and lists back, subclassed only to carry line numbers, so validation
errors can say `file:line`. Only plain types are constructed (maps, lists, strings,
numbers, booleans, null; a date stays its text); aliases, nesting depth and size are
bounded so that a "billion laughs" or `[[[[...` document is refused instead of expanded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from engine.errors import InputError, Location
from engine.lazy import is_vaulted

# A document may expand to at most this many nodes once aliases are followed.
# Real playbooks and inventories are a few thousand nodes; an alias bomb is billions.
MAX_EXPANDED_NODES = 1_000_000
# Real documents nest a dozen levels; this bound keeps composing, constructing and every
# recursive walk downstream far from Python's recursion limit (and libyaml's composer,
# which recurses in C, from crashing the interpreter).
MAX_DEPTH = 100

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMap(dict[str, Any]):
    """A mapping from a YAML file; `line` is where it starts, `key_lines[key]` where each key is."""

    file: str = ""
    line: int = 0
    key_lines: dict[str, int]

    def where(self, key: str | None = None) -> Location:
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return Location(self.file, line)


class YamlList(list[Any]):
    """A sequence from a YAML file; `item_lines[i]` is where item i starts."""

    file: str = ""
    line: int = 0
    item_lines: list[int]

    def where(self, index: int | None = None) -> Location:
        if index is not None and index < len(self.item_lines):
            return Location(self.file, self.item_lines[index])
        return Location(self.file, self.line)


def derived_map(values: dict[str, Any], source: object, default: Location) -> YamlMap:
    """A mapping a loader makes from what was written (a task with the keywords it inherits,
    a role named by a bare string): `source`'s lines when it is a YAML mapping (a key it
    lacks is at its first line), else `default`."""
    derived = YamlMap(values)
    at = source.where() if isinstance(source, YamlMap) else default
    derived.file, derived.line = at.file, at.line
    derived.key_lines = dict(source.key_lines) if isinstance(source, YamlMap) else {}
    return derived


def where(value: object, key: str | int | None = None, default: Location | None = None) -> Location:
    """The location of `value` (or of its `key`), when it came from a YAML file."""
    if isinstance(value, YamlMap):
        return value.where(key if isinstance(key, str) else None)
    if isinstance(value, YamlList):
        return value.where(key if isinstance(key, int) else None)
    return default or Location("<unknown>")


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    file_name = "<string>"
    text = ""   # the document, for messages that quote what was written

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return super().construct_object(node, deep=deep)
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, AttributeError, OverflowError) as error:
            # PyYAML's scalar constructors let these escape for values such as
            # `!!int x`, `!!bool maybe`, `!!float x` or an integer of 5,000 digits
            raise InputError(f"invalid YAML value {_short(node.value)} "
                             f"({_tag_name(node.tag)}): {error}",
                             Location(self.file_name, node.start_mark.line + 1)) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> YamlMap:
        self.flatten_mapping(node)
        result = YamlMap()
        result.file = self.file_name
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            where = Location(self.file_name, key_node.start_mark.line + 1)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                mark = key_node.start_mark
                if "{{" in _line_of(self.text, mark.line)[max(0, mark.column - 1):]:
                    raise InputError("a value that starts with '{{' must be quoted, or YAML "
                                     "reads it as a mapping: write key: \"{{ var }}\"", where)
                raise InputError(f"a mapping key must be a plain scalar, got {key!r}", where)
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                raise InputError(f"duplicate key {key!r} in this mapping", where)
            result[key] = self.construct_object(value_node, deep=deep)
            result.key_lines[key] = where.line
        return result

    def construct_yaml_map(self, node: yaml.MappingNode) -> Any:
        data = YamlMap()
        yield data  # yielded first so that recursive aliases can refer to it
        built = self.construct_mapping(node, deep=True)
        data.update(built)
        data.file, data.line, data.key_lines = built.file, built.line, built.key_lines

    def construct_yaml_seq(self, node: yaml.SequenceNode) -> Any:
        data = YamlList()
        data.file = self.file_name
        data.line = node.start_mark.line + 1
        data.item_lines = [item.start_mark.line + 1 for item in node.value]
        yield data
        data.extend(self.construct_sequence(node, deep=True))


def _construct_as_written(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    return str(node.value)


def _refuse_tag(loader: _LineLoader, node: yaml.Node) -> Any:
    raise InputError(f"unsupported YAML tag {_tag_name(node.tag)}; only plain YAML types "
                     "are allowed: maps, lists, strings, numbers, booleans, null",
                     Location(loader.file_name, node.start_mark.line + 1))


def _construct_vaulted(loader: _LineLoader, node: yaml.Node) -> str:
    """Ansible's `!vault |` value: decrypted now (engine/vault.py), a secret from here on."""
    at = Location(loader.file_name, node.start_mark.line + 1)
    if not isinstance(node, yaml.ScalarNode):
        raise InputError("a !vault value is the text ansible-vault encrypt_string printed "
                         "(a block starting $ANSIBLE_VAULT;), not a list or mapping", at)
    from engine import vault  # the vault gate (engine/lazy.py)

    return vault.decrypt_value(str(node.value), at)


_LineLoader.add_constructor("!vault", _construct_vaulted)
_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_yaml_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_yaml_seq)
# A date stays the text it was written as (`2024-01-01`, as a container's env or a
# template sees it); sets, ordered maps and binary have no JSON equivalent to pass on.
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_as_written)
for _tag in ("set", "omap", "pairs", "binary"):
    _LineLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_NODES = (*_OPENING, yaml.ScalarEvent, yaml.AliasEvent)


def _check_shape(text: str, file_name: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or with more than MAX_EXPANDED_NODES
    nodes, from the parser's event stream: libyaml's parser keeps its own stack, so this
    walk cannot overflow, and it stops early on a huge document."""
    parser = _BaseLoader(text)
    depth = count = 0
    try:
        while parser.check_event():
            event = parser.get_event()  # type: ignore[no-untyped-call]
            count += isinstance(event, _NODES)
            depth += isinstance(event, _OPENING) - isinstance(event, _CLOSING)
            where = Location(file_name, event.start_mark.line + 1)
            if depth > MAX_DEPTH:
                raise InputError(f"this YAML document nests more than {MAX_DEPTH} levels of "
                                 "lists and mappings; refusing it - flatten the data", where)
            if count > MAX_EXPANDED_NODES:
                raise InputError(f"this YAML document has more than {MAX_EXPANDED_NODES:,} "
                                 "values; refusing it - split it into several files", where)
    finally:
        parser.dispose()


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes `node` becomes with aliases followed; shared nodes are counted per use."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once instead of looping forever
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    size = min(size, MAX_EXPANDED_NODES + 1)
    memo[id(node)] = size
    return size


# JSON writes a character beyond U+FFFF as two escapes (json.dumps: "\ud83d\ude80"), which
# YAML refuses ("invalid Unicode character escape code"); YAML's own spelling is \U0001f680.
# Only after an odd number of backslashes: an escaped backslash starts no escape. Applied
# only to a document YAML refused, so nothing YAML reads already changes meaning.
_SURROGATE_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})",
                             re.IGNORECASE)


def _as_yaml_escapes(text: str) -> str:
    def joined(match: re.Match[str]) -> str:
        high, low = int(match[2], 16), int(match[3], 16)
        return f"{match[1]}\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"
    return _SURROGATE_PAIR.sub(joined, text)


def load_yaml(text: str, file_name: str) -> Any:
    """Parse one YAML document safely; errors become `InputError` with the file and line."""
    try:
        return _load_yaml(text, file_name)
    except InputError as error:
        rewritten = _as_yaml_escapes(text)
        if "invalid Unicode character escape" not in error.message or rewritten == text:
            raise
    return _load_yaml(rewritten, file_name)


def _load_yaml(text: str, file_name: str) -> Any:
    loader = _LineLoader(text)
    loader.file_name = file_name
    loader.text = text
    try:
        _check_shape(text, file_name)
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise InputError(
                "this YAML document expands to more than "
                f"{MAX_EXPANDED_NODES:,} values through aliases; refusing it "
                "(an alias bomb?) - write the values out or use fewer nested aliases",
                Location(file_name, node.start_mark.line + 1),
            )
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        problem = error.problem or str(error)
        if error.context and error.context_mark and error.context_mark is not mark:
            problem += f" ({error.context} that starts on line {error.context_mark.line + 1})"
        if mark is not None and "\t" in _line_of(text, mark.line) and \
                "cannot start any token" in problem:
            problem = ("a tab character: YAML indents with spaces only; replace the tab "
                       "with spaces")
        if "could not determine a constructor" in str(error):
            problem = (f"unsupported YAML tag ({problem.strip()}); only plain YAML types "
                       "are allowed: maps, lists, strings, numbers, booleans, null")
        raise InputError(f"invalid YAML: {problem}", Location(file_name, line)) from None
    except yaml.YAMLError as error:
        raise InputError(f"invalid YAML: {error}", Location(file_name)) from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file, decrypting it first when ansible-vault encrypted it
    (then every value in it is a secret); a missing or unreadable file is an `InputError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", Location(str(path))) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read this file: {error}", Location(str(path))) from None
    return load_yaml_text(text, str(path))


def load_yaml_text(text: str, file_name: str) -> Any:
    """`load_yaml` of a file's text, which ansible-vault may have encrypted as a whole."""
    if not is_vaulted(text):
        return load_yaml(text, file_name)
    from engine import vault  # the vault gate (engine/lazy.py)

    return vault.current().reveal(load_yaml(vault.decrypt_file(text, Location(file_name, 1)),
                                            file_name))


def _line_of(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number] if 0 <= number < len(lines) else ""


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def _tag_name(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")
