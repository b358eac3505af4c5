"""What CI reads from the README, so that it runs the newcomer's path as the README writes it:

    python .ci/readme.py command N        # the README's command N ("Two commands"), as one shell line
    python .ci/readme.py outputs FOLDER   # every file the quick table names exists under FOLDER

Exit 1 with one line per missing output; 2 when the README lacks what is read."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", text, re.S | re.M)
    if not match:
        raise SystemExit(f"error: README.md has no section '## {heading}'")
    return match.group(1)


def commands(text: str) -> list[str]:
    """The command lines of the first fenced block of "Two commands", comments dropped."""
    block = re.search(r"```bash\n(.*?)```", section(text, "Two commands"), re.S)
    if not block:
        raise SystemExit("error: README.md, section 'Two commands', has no ```bash block")
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def quick_outputs(text: str) -> list[str]:
    """The files named in the first column of the quick table (its header names results/quick/)."""
    lines = section(text, "Two commands").splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("| output (files under `results/quick/`)")), None
    )
    if start is None:
        raise SystemExit(
            "error: README.md, section 'Two commands', has no quick table headed '| output (files under `results/quick/`)'"
        )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return [name for row in rows for name in re.findall(r"`([^`\s]+\.[a-z]+)`", row.split("|")[1])]


def main(argv: list[str]) -> int:
    text = README.read_text()
    if argv[:1] == ["command"] and len(argv) == 2:
        found = commands(text)
        n = int(argv[1])
        if not 1 <= n <= len(found):
            raise SystemExit(f"error: README.md shows {len(found)} commands, not a command {n}")
        print(found[n - 1])
        return 0
    if argv[:1] == ["outputs"] and len(argv) == 2:
        folder = Path(argv[1])
        names = quick_outputs(text)
        if not names:
            raise SystemExit("error: README.md's quick table names no output file")
        missing = [name for name in names if not (folder / name).is_file()]
        for name in missing:
            print(f"missing: {folder / name} (README.md's quick table names it)", file=sys.stderr)
        print(
            f"{len(names) - len(missing)} of {len(names)} outputs the README's quick table names exist under {folder}"
        )
        return 1 if missing else 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
