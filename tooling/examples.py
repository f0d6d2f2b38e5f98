"""`make examples`: the demo month's statement and Slack messages as docs/examples/.

    python -m tooling.examples LOCAL_DIR [DEST]      # after a demo run into LOCAL_DIR

Copies, from a finished demo run (`scripts/demo.sh` with REPLICA_LEDGER_LOCAL_DIR=LOCAL_DIR):

- the payments team's October statement, version 1 (`statement.html`, `.csv`, `.json`) and a
  screenshot of the HTML in Chromium (`statement.png`);
- every Slack message of the outbox, the statement messages and the breach alerts, as JSON
  (the payload posted) and text (the outbox's reading of it).

What differs between two runs of the same demo is replaced by a fixed word: the run id of
an alert (Airflow 3 names a manual run after the moment it starts) and the folders of the
run. `collect` is what the drift test compares with docs/examples (tests/dags/test_demo_month.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "docs" / "examples"
STATEMENT = Path("2026-10") / "payments" / "v1"
SCREENSHOT = "statement/statement.png"
# An alert's text names its run in its head line; a notice without that line, in its footer.
_RUN_ID = re.compile(r"run: (\S+)  snapshot date:|^run (\S+) \(", re.MULTILINE)
# The run's log page: its host, port and path differ between machines and Airflow versions.
_RUN_URL = re.compile(r"https?://[^\s|<>()\"]*RUN_ID[^\s|<>()\"]*")


def _normalized(text: str, replacements: dict[str, str]) -> str:
    for old, new in sorted(replacements.items(), key=lambda item: -len(item[0])):
        if old:
            text = text.replace(old, new)
    return _RUN_URL.sub("RUN_URL", text)


def collect(local_dir: Path, statements_dir: Path | None = None) -> dict[str, bytes]:
    """docs/examples' name -> bytes, from the demo run in `local_dir` (PNG aside)."""
    from replica_ledger.alerts.routes import safe_filename

    local_dir = Path(local_dir).resolve()
    statements = Path(statements_dir or local_dir / "statements").resolve()
    outbox = local_dir / "outbox"
    folders = {str(statements): "$REPLICA_LEDGER_STATEMENTS_DIR", str(local_dir): "$REPLICA_LEDGER_LOCAL_DIR"}
    files: dict[str, bytes] = {}
    for name in ("statement.html", "statement.csv", "statement.json"):
        files[f"statement/{name}"] = (statements / STATEMENT / name).read_bytes()
    for text_path in sorted(outbox.glob("*.txt")):
        text = text_path.read_text(encoding="utf-8")
        payload = text_path.with_suffix(".json").read_text(encoding="utf-8")
        replacements = dict(folders)
        stem = text_path.stem
        found = _RUN_ID.search(text)
        if found:
            run_id = found.group(1) or found.group(2)
            replacements.update({run_id: "RUN_ID", safe_filename(run_id): "RUN_ID"})
            for encoded in (run_id.replace(":", "%3A").replace("+", "%2B"), run_id.replace("+", "%2B")):
                replacements[encoded] = "RUN_ID"
        name = _normalized(stem, replacements)
        files[f"slack/{name}.json"] = _normalized(payload, replacements).encode("utf-8")
        files[f"slack/{name}.txt"] = _normalized(text, replacements).encode("utf-8")
    return files


def screenshot(html: Path, png: Path) -> None:
    """The statement as Chromium shows it (Debian's /usr/bin/chromium, scripts/install_chromium.sh)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        page.goto(html.resolve().as_uri())
        page.screenshot(path=str(png), full_page=True)
        browser.close()


def write(local_dir: Path, dest: Path = EXAMPLES) -> list[Path]:
    files = collect(local_dir)
    for old in dest.rglob("*"):
        if old.is_file() and old.relative_to(dest).as_posix() not in files and old.name != "README.md":
            old.unlink()
    written = []
    for name, data in files.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    screenshot(Path(local_dir) / "statements" / STATEMENT / "statement.html", dest / SCREENSHOT)
    return [*written, dest / SCREENSHOT]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    written = write(Path(args[0]), Path(args[1]) if len(args) == 2 else EXAMPLES)
    print(f"{len(written)} file(s) in {written[0].parents[1] if written else EXAMPLES}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
