"""A strict YAML loader for launch specs: plain data only.

safe_load already refuses tags that construct Python objects; on top of that aliases are
refused (an alias bomb expands into billions of nodes when walked) and so are duplicate keys
(YAML would silently keep the last one).
"""

from decimal import Decimal

import yaml
from yaml.constructor import ConstructorError


class StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConstructorError(
                None, None, "aliases (*name) are not allowed in a launch spec", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str):
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader


class _Dumper(yaml.SafeDumper):
    pass


FOLD_AT = 100  # the export's line width: longer one-line strings are folded (">") to fit


def _str(dumper, value: str):
    # Literal for multi-line text, folded for long lines: both keep the exact value (PyYAML
    # falls back to quoting where a block scalar could not, e.g. trailing spaces).
    style = "|" if "\n" in value else ">" if len(value) > FOLD_AT else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data) -> str:
    """Block-style YAML in the data's own key order: diff-friendly and the same on every run."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=FOLD_AT,
        default_flow_style=False,
    )


def _decimal(dumper, value):
    from apps.gates.models import format_decimal

    text = format_decimal(value)
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(Decimal, _decimal)
