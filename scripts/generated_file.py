"""Write a generated source file, or with --check fail while it is stale (make test runs the checks).

Shared by scripts/openapi_json.py and scripts/console_assets.py: each renders its file's text, then
calls `write_or_check`.
"""

import pathlib
import sys


def write_or_check(argv, root: pathlib.Path, target: pathlib.Path, rendered: str, source: str, script: str) -> int:
    """Rewrites `target` with `rendered`, or with `--check` in `argv` returns 1 (saying how to regenerate
    it) when the file differs from `rendered`. `source` names what it is generated from."""
    name = target.relative_to(root)
    if "--check" in argv:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != rendered:
            print(f"{name} is stale: run python3 {script}", file=sys.stderr)
            return 1
        print(f"{name} matches {source}")
        return 0
    target.write_text(rendered, encoding="utf-8")
    print(f"wrote {name}")
    return 0
