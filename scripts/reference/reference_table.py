"""Writes a known-answer table as JSON with one case per line, so a regenerated file diffs readably.
Shared by rdp_reference.py and pld_reference.py."""
import json


def write(path, document):
    """Writes `document` (a dict whose list-of-dict values are tables) to `path`."""
    lines = ["{"]
    items = list(document.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            rows = ",\n".join("  " + json.dumps(row, allow_nan=False) for row in value)
            lines.append(f"{json.dumps(key)}: [\n{rows}\n ]{comma}")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, allow_nan=False)}{comma}")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
