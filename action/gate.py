"""The GitHub Action's step (action.yml): gate media with ``preflight check``, write JUnit, annotate.

Runs ``preflight check --format junit --report FILE`` on the given paths, then reads the JUnit back
and prints one workflow command per file that does not pass (``::error file=...``) and per warning
(``::warning file=...``), so each shows on the file in the pull request, and a count line. (The
JUnit on preflight's stdout is the file's copy and is not repeated in the log; its errors, on
stderr, are.) Also writes a table to the job summary and the outputs ``report``, ``checked``,
``failed`` and ``exit-code``. Exits with preflight's own exit code: 0 every file passes, 1 some do
not, 2 a usage error, 3 a bug.

Inputs come as environment variables (action.yml maps them), never pasted into a shell line:
``PREFLIGHT_ACTION_PATHS`` (files and folders, whitespace-separated, shell quoting allowed),
``PREFLIGHT_ACTION_PROFILE``, ``PREFLIGHT_ACTION_ORIENTATION``, ``PREFLIGHT_ACTION_CONTENT`` and
``PREFLIGHT_ACTION_STRICT`` (``true``/``false``), ``PREFLIGHT_ACTION_REPORT`` (the JUnit file).
Standard library only: it runs with whatever Python the workflow installed preflight into.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

TRUE = ("true", "1", "yes")


@dataclass(frozen=True)
class Outcome:
    """One file of the JUnit report that needs a reader's eye."""

    path: str
    level: str
    """``error`` (the file does not pass) or ``warning``."""
    title: str
    text: str


def flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE


def check_command(paths: list[str], report: str) -> list[str]:
    """The ``preflight check`` command line the inputs ask for."""
    command = [sys.executable, "-m", "preflight", "check", *paths, "--format", "junit", "--report", report]
    for option, name in (("--profile", "PREFLIGHT_ACTION_PROFILE"), ("--orientation", "PREFLIGHT_ACTION_ORIENTATION")):
        value = os.environ.get(name, "").strip()
        if value:
            command += [option, value]
    if not flag("PREFLIGHT_ACTION_CONTENT"):
        command.append("--no-content")
    if flag("PREFLIGHT_ACTION_STRICT"):
        command.append("--strict")
    return command


def outcomes(junit: Path) -> tuple[int, list[Outcome]]:
    """(files checked, what to annotate) from preflight's JUnit report."""
    suite = ET.parse(junit).getroot()
    found: list[Outcome] = []
    checked = 0
    for case in suite.iter("testcase"):
        if case.find("skipped") is not None:
            continue
        checked += 1
        path = case.get("name", "")
        failure = case.find("failure")
        if failure is not None:
            found.append(Outcome(path, "error", f"preflight {failure.get('message', 'fail')}", failure.text or ""))
        out = case.find("system-out")
        for line in (out.text or "").splitlines() if out is not None else ():
            severity, _, rest = line.partition(" ")
            if severity == "warning":
                found.append(Outcome(path, "warning", f"preflight warning: {rest.split(':', 1)[0]}", rest))
    return checked, found


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace_path(path: str) -> str:
    """The path as GitHub names files in annotations: relative to the workspace when inside it."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace:
        absolute = Path(path).absolute()
        if absolute.is_relative_to(workspace):
            return absolute.relative_to(workspace).as_posix()
    return path


def annotation(outcome: Outcome) -> str:
    """A workflow command: ``::error file=clips/a.mp4,title=...::message``."""
    file = _escape_property(workspace_path(outcome.path))
    return f"::{outcome.level} file={file},title={_escape_property(outcome.title)}::{_escape_data(outcome.text)}"


def summary(checked: int, found: list[Outcome], code: int) -> str:
    """The job summary: counts, then one row per file that does not pass."""
    failing = [o for o in found if o.level == "error"]
    lines = [f"### preflight check: {checked - len(failing)} of {checked} file(s) pass (exit {code})", ""]
    if failing:
        lines += ["| file | verdict | findings |", "|---|---|---|"]
        for o in failing:
            cell = o.text.replace("|", "\\|").replace("\n", "<br>")
            lines.append(f"| `{o.path}` | {o.title.removeprefix('preflight ')} | {cell} |")
    return "\n".join(lines) + "\n"


def _append(variable: str, text: str) -> None:
    target = os.environ.get(variable)
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text)


def main() -> int:
    paths = shlex.split(os.environ.get("PREFLIGHT_ACTION_PATHS", ""))
    if not paths:
        print("::error title=preflight::the action's `paths` input is empty: give files or folders to check")
        return 2
    report = Path(os.environ.get("PREFLIGHT_ACTION_REPORT") or "preflight-junit.xml")
    report.unlink(missing_ok=True)  # a report left by an earlier step must not pass for this one
    code = subprocess.run(check_command(paths, str(report)), stdout=subprocess.DEVNULL, check=False).returncode
    if not report.is_file():
        print(f"::error title=preflight::preflight check exited {code} without a report (see the line above)")
        _append("GITHUB_OUTPUT", f"report=\nchecked=0\nfailed=0\nexit-code={code}\n")
        return code or 3
    checked, found = outcomes(report)
    for outcome in found:
        print(annotation(outcome))
    failed = sum(1 for o in found if o.level == "error")
    print(f"preflight check: {checked - failed} of {checked} file(s) pass; JUnit report: {report}")
    _append("GITHUB_OUTPUT", f"report={report}\nchecked={checked}\nfailed={failed}\nexit-code={code}\n")
    _append("GITHUB_STEP_SUMMARY", summary(checked, found, code))
    return code


if __name__ == "__main__":
    sys.exit(main())
