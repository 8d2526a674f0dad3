"""``python -m bench.worker module:function '{"kwarg": ...}'`` — one call in a fresh interpreter.

Prints the function's JSON-serialisable return value on one marked line (see
:func:`bench.common.emit`); everything else the function prints is log.
"""

from __future__ import annotations

import importlib
import json
import sys

from .common import emit


def main(argv: list[str]) -> None:
    target, raw_kwargs = argv[0], (argv[1] if len(argv) > 1 else "{}")
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    emit(function(**json.loads(raw_kwargs)))


if __name__ == "__main__":
    main(sys.argv[1:])
