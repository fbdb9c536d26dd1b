"""A YAML file (aichat's config.yaml, mods' mods.yml), read with PyYAML (imported only here).

Positions come from PyYAML's node marks, so a key is removed by deleting its own line — or,
where it shares its line with other things (flow style), by blanking its value to "".
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import ByokError, Code


def _yaml():
    try:
        import yaml
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise ByokError(Code.INTERNAL, "PyYAML is missing", hint="pip install pyyaml") from None
    return yaml


def _no_aliases(yaml):
    """PyYAML's safe loader, refusing aliases (*name): no key file needs one, and a few
    hundred bytes of nested aliases (a "billion laughs") take seconds and gigabytes to
    expand, or to walk for `--scrub`."""
    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, "an alias (*name), which imports do not accept", mark)
            return super().compose_node(parent, index)

    return NoAliases


class YAML:
    name = "YAML"

    def load(self, text: str, where: str = "the file") -> Any:
        yaml = _yaml()
        try:
            return yaml.load(text, Loader=_no_aliases(yaml))
        except RecursionError:  # PyYAML composes and constructs recursively
            raise ByokError(Code.INVALID_FORMAT, f"{where} nests too deeply to be a key file; "
                            "nothing was changed") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or "cannot be parsed"
            raise ByokError(Code.INVALID_FORMAT, f"{where} is not valid YAML{at}: {problem}; "
                            "nothing was changed") from None

    def node_pair(self, text: str, path: tuple):
        """(key node, value node) of the mapping entry at `path`."""
        yaml = _yaml()
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        pair = None
        for step in path:
            if isinstance(step, int):
                node = node.value[step]
                continue
            found = [(k, v) for k, v in node.value if getattr(k, "value", None) == step]
            if not found:
                raise KeyError(step)
            pair = found[-1]  # as when loading: the last of duplicate keys wins
            node = pair[1]
        return pair

    def locate(self, text: str, path: tuple) -> list[tuple[int, int, str]]:
        """Ways to remove the entry at `path`, best first: its whole line(s), else its value."""
        key, value = self.node_pair(text, path)
        k0, k1 = key.start_mark.index, key.end_mark.index
        v0, v1 = value.start_mark.index, value.end_mark.index
        if v0 < k1:  # an alias: the value lives elsewhere in the file
            return []
        ways = []
        line_start = text.rfind("\n", 0, k0) + 1
        if text[v1 - 1:v1] == "\n":
            line_end = v1
        else:
            nl = text.find("\n", v1)
            line_end = len(text) if nl < 0 else nl + 1
        after = text[v1:line_end].strip()
        if not text[line_start:k0].strip() and (not after or after.startswith("#")):
            ways.append((line_start, line_end, ""))
        ways.append((v0, v1, '""'))
        return ways

    @staticmethod
    def without(doc: Any, removed: list[tuple[tuple, bool]]) -> Any:
        out = copy.deepcopy(doc)
        for path, blank in removed:
            parent = out
            for step in path[:-1]:
                parent = parent[step]
            if blank:
                parent[path[-1]] = ""
            else:
                parent.pop(path[-1], None)
        return out
