"""Reading config.yaml's text: YAML with line numbers, ``${VAR}`` interpolation, and ``.env``.

Kept apart from the pydantic models in model.py so that ``runner.py list`` can read the jobs without
paying for validation (it must start in under 0.3 s); ``validate`` and every run validate fully.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opskit.errors import ConfigError

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}|\$\$")
SECRET_NAME = re.compile(
    r"PASS|TOKEN|SECRET|KEY|AUTH|COOKIE|CREDENTIAL|PRIVATE|SIGNATURE|SESSION|BEARER|WEBHOOK|SALT"
    r"|(?:^|_)(?:PW|PWD|DSN|SIG)(?:_|$)",  # short ones as whole words: OPS_PW, SENTRY_DSN, not UPWARD
    re.IGNORECASE,
)
DEFAULT_PATHS = {"var": "var", "data": "data", "tasks": "tasks"}
# Bounds that keep a hostile or mistaken file from stalling `validate` and the scheduler's reload (which
# reads the same way): a real config is a few kilobytes and a few hundred YAML nodes.
MAX_CONFIG_BYTES = 1_000_000
MAX_YAML_NODES = 100_000  # counted with every alias expanded, as the loaded data would hold them
MAX_YAML_DEPTH = 64

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it


class _Loader(_Base):
    """YAML 1.2 booleans: only true/false are booleans, so ``on: [success]`` keeps the key ``on``."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass
class RawConfig:
    """The file's data before validation, with the line of every key."""

    path: Path
    data: dict[str, Any]
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    problems: list[ConfigError] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    def path_setting(self, key: str) -> Path:
        """A folder from ``paths:``, resolved against the config's folder, without validation."""
        paths = self.data.get("paths") if isinstance(self.data.get("paths"), dict) else {}
        value = Path(str(paths.get(key) or DEFAULT_PATHS[key]))  # type: ignore[union-attr]
        return value if value.is_absolute() else self.path.resolve().parent / value


def read_config_file(path: Path, *, environ: dict[str, str] | None = None, interpolate: bool = True) -> RawConfig:
    """Parse the YAML, record key lines, and fill ``${VAR}`` references.

    Raises:
        ConfigError: the file is missing, unreadable, or not valid YAML (with line and column).
    """
    path = Path(path)
    text = _read_text(path)
    try:
        _check_depth(text, path.name)  # before composing: libyaml's composer recurses in C, and crashes
        node = yaml.compose(text, Loader=_Loader)
        if node is not None:
            _check_expansion(node, path.name)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        raise ConfigError(f"YAML syntax error: {exc.problem or exc.context}", where=where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML syntax error: {exc}", where=path.name) from None
    except RecursionError:
        raise ConfigError(f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep", where=path.name) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the file must be a mapping of sections (timezone, sources, jobs, ...)", where=f"{path.name}:1"
        )
    raw = RawConfig(path=path, data=data)
    if node is not None:
        _collect_lines(node, (), raw.lines, raw.problems, path.name)
    if interpolate:
        env = dict(environ) if environ is not None else environment(path.parent)
        raw.data = _interpolate(data, (), env, raw)
    return raw


def _read_text(path: Path) -> str:
    """The file's text, refused before parsing when it is larger than any config needs to be."""
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would block the read forever
        raise ConfigError(f"config file {path} is not a regular file", hint="Pass --config PATH to config.yaml")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist", hint="Pass --config PATH or set OPSKIT_CONFIG"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES // 1000} kB",
            hint="A config holds settings and jobs; keep data in files under paths.data",
        )
    return decode_text(data, path.name, show_byte=True)


def _check_depth(text: str, filename: str) -> None:
    """Refuse nesting deeper than MAX_YAML_DEPTH from the parser's events, which come one by one without
    recursion: at about 25,000 levels composing the tree overflows libyaml's C stack (a segfault, not an
    error), so a running scheduler that reloaded such a file died instead of keeping its config."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                mark = event.start_mark
                raise ConfigError(
                    f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep",
                    where=f"{filename}:{mark.line + 1}" if mark is not None else filename,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_expansion(root: yaml.Node, filename: str) -> None:
    """Refuse alias bombs ("billion laughs"), self-referring aliases and absurd nesting before loading.

    Aliases share one node in the composed graph, so this walk costs the file's size; the count is what the
    loaded data (and every walk over it: line numbers, ``${VAR}`` filling, validation) would expand to.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ConfigError(
                "an alias refers to the node that contains it", where=f"{filename}:{node.start_mark.line + 1}"
            )
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(
                f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep",
                where=f"{filename}:{node.start_mark.line + 1}",
            )
        total = 1
        if isinstance(node, yaml.CollectionNode):
            open_nodes.add(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            for child in children:
                total += size(child, depth + 1)
                if total > MAX_YAML_NODES:
                    raise ConfigError(
                        f"the YAML expands to more than {MAX_YAML_NODES:,} values (aliases counted each time "
                        "they are used)",
                        where=f"{filename}:{node.start_mark.line + 1}",
                        hint="Anchors and aliases (&name, *name) are for sharing a few settings, not for "
                        "multiplying them",
                    )
            open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


def default_config_path() -> Path:
    """$OPSKIT_CONFIG, else config.yaml beside runner.py."""
    env = os.environ.get("OPSKIT_CONFIG")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "config.yaml"


def where_in(lines: dict[tuple[str, ...], int], filename: str, keys: tuple[str, ...]) -> str:
    """``file:line`` of the deepest of ``keys`` that was written in the file."""
    for n in range(len(keys), 0, -1):
        if keys[:n] in lines:
            return f"{filename}:{lines[keys[:n]]}"
    return filename


SAVE_AS_UTF8 = "Save it as UTF-8"


def decode_text(data: bytes, name: str, *, show_byte: bool) -> str:
    """A text file's bytes as text: UTF-8 (with or without a byte-order mark) or UTF-16 with its mark, as
    some Windows editors save; else one error naming the file and line (and the byte, where it is no secret).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ConfigError("not UTF-16 text after its byte-order mark", where=name, hint=SAVE_AS_UTF8) from None
    try:
        return data.decode("utf-8-sig")  # a UTF-8 byte-order mark must not become part of the first name
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        shown = f" (byte 0x{data[exc.start]:02x})" if show_byte else ""
        raise ConfigError(f"not UTF-8 text{shown}", where=f"{name}:{line}", hint=SAVE_AS_UTF8) from None


def environment(folder: Path) -> dict[str, str]:
    """The process environment over ``.env`` beside the config: a real variable wins over the file."""
    env: dict[str, str] = {}
    dotenv = folder / ".env"
    if dotenv.is_file():
        from dotenv import dotenv_values
        from dotenv.parser import parse_stream

        text = _read_dotenv(dotenv)
        for binding in parse_stream(io.StringIO(text)):  # dotenv would only log and skip such a line
            if binding.error:
                raise ConfigError(
                    "cannot read this line (NAME=value expected)",
                    where=f"{dotenv.name}:{binding.original.line}",
                    hint="Quote a value with spaces or '#': NAME=\"a value\"",
                )
        env.update({k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None})
        for key, value in env.items():  # tasks read secrets through os.environ too
            os.environ.setdefault(key, value)
    env.update(os.environ)
    return env


def _read_dotenv(path: Path) -> str:
    """``.env``'s text; a file that is not UTF-8 is named with its line (never echoing the bytes: secrets)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES // 1000} kB")
    return decode_text(data, path.name, show_byte=False)  # never a byte of .env: it holds secrets


def _collect_lines(
    node: yaml.Node,
    path: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    problems: list[ConfigError],
    filename: str,
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    ConfigError(f"duplicate key '{key}'", where=f"{filename}:{key_node.start_mark.line + 1}")
                )
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _collect_lines(value_node, path + (key,), lines, problems, filename)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_lines(item, path + (str(i),), lines, problems, filename)


def _interpolate(value: Any, path: tuple[str, ...], env: dict[str, str], raw: RawConfig) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, path + (str(k),), env, raw) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, path + (str(i),), env, raw) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def fill(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if SECRET_NAME.search(name) and "params" in path:
            # Parameters are stored in the run history and shown by `show`: a secret has no place there.
            raw.problems.append(
                ConfigError(
                    f"${{{name}}} looks like a secret, and job parameters are stored in the run history",
                    where=where_in(raw.lines, raw.path.name, path),
                    hint=f"Pass the variable's name instead and read it in the task with ctx.secret('{name}')",
                )
            )
            return ""
        secret = bool(SECRET_NAME.search(name)) or _in_credentials_of_url(value, m)
        if name in env:
            if env[name] and secret:
                raw.secrets.add(env[name])
            return env[name]
        if default is not None:
            if default and secret:  # a default password is still a password
                raw.secrets.add(default)
            return default
        needed_by = f"job '{path[1]}'" if len(path) > 1 and path[0] == "jobs" else ".".join(path)
        raw.problems.append(
            ConfigError(
                f"environment variable {name} is not set (needed by {needed_by})",
                where=where_in(raw.lines, raw.path.name, path),
                hint=f"Set it in the environment or in .env, or write ${{{name}:-default}}",
            )
        )
        return ""

    return _INTERPOLATION.sub(fill, value)


_URL_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*$")
"""The start of a URL up to the variable, still inside its authority (anywhere in the text: a URL may
follow other words, or another URL, in one value)."""


def _in_credentials_of_url(text: str, m: re.Match[str]) -> bool:
    """Whether a ``${VAR}`` sits where a URL carries credentials: its user-info (``https://u:${PW}@host``)
    or its query and fragment (``?sig=${SIG}``). Such a value is a secret whatever the variable's name."""
    before, after = text[: m.start()], text[m.end() :]
    url_start = before.rfind("://")
    if url_start < 0:
        return False
    in_url = before[url_start:]
    if any(c.isspace() for c in in_url):  # the URL ended before the variable
        return False
    if "?" in in_url or "#" in in_url:
        return True
    return bool(_URL_AUTHORITY.search(before)) and "@" in re.split(r"[/?#\s]", after, maxsplit=1)[0]
