"""The documentation site: the reference pages made from the code hold all of it, and the site builds.

docs/hooks/reference.py makes the codes and matrix pages when MkDocs builds the site; these tests call
the same functions, so a code or a model x provider pair the pages would leave out fails here, in the
default run, without building anything. The whole build (``mkdocs build --strict``) is slow-marked and
run by .ci/run as well.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import pytest

from preflight.cli import COMMANDS
from preflight.codes import CODES
from preflight.profiles import contract_matrix

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "docs" / "hooks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load("reference")
import_graph = _load("import_graph")


def test_the_codes_page_lists_every_registered_code_once() -> None:
    page = reference.codes_page()
    first_cells = [line.split("|")[1].strip().strip("`") for line in page.splitlines() if line.startswith("| `")]
    listed = [cell for cell in first_cells if not cell.isdigit()]  # the exit codes' table comes first
    assert sorted(listed) == sorted(entry.code for entry in CODES)
    assert "| `video.rotated` | warning | 0 | - | " in page and "| `upload.too_large` | - | - | 413 | " in page
    assert "## Exit codes" in page and "| `143` | stopped by SIGTERM |" in page


def test_the_matrix_page_has_every_pair_with_its_limits_and_sources() -> None:
    page = reference.matrix_page()
    for pair in contract_matrix():
        name = pair.profile.name
        assert f"| {pair.provider.name} | [`{name}`](#{reference._anchor(name)}) |" in page, name
        section = page[page.index(f"## {name} {{#") :]
        section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
        assert f"`{pair.route.model_id}`" in section, name
        for role, limits in (("image", pair.profile.image), ("video", pair.profile.video)):
            for key, value in asdict(limits).items():
                assert (f"| `{role}.{key}` |" in section) == (value not in (None, ())), (name, role, key)
        for dotted, source in pair.profile.sources.items():
            assert f"| `{dotted}` |" in section and source in section, (name, dotted)
    novita = page[page.index("## kling-v3@novita {#") :]
    assert "| `video.max_bytes` | 10,000,000 bytes (10 MB) | provider novita: " in novita


def test_the_cli_reference_renders_every_command() -> None:
    """mkdocs-click walks the lazy group: each command (and each subcommand of a group) gets a section."""
    from mkdocs_click._docs import make_command_docs

    from preflight.cli import cli

    lines = list(make_command_docs(prog_name="preflight", command=cli, depth=1, style="table", list_subcommands=True))
    headings = {line.split(" ", 1)[1] for line in lines if line.startswith("#")}
    assert set(COMMANDS) <= headings, set(COMMANDS) - headings
    assert {"cancel", "download", "list", "show", "install", "status"} <= headings  # jobs, profiles, models
    text = "\n".join(lines)
    assert "--max-side" in text and "--every-frame" in text and "--upload" in text


def test_the_committed_import_graph_is_current() -> None:
    fresh = import_graph.svg(import_graph.package_graph())
    committed = (ROOT / "docs" / "import-graph.svg").read_text(encoding="utf-8")
    assert committed == fresh, "regenerate: python docs/hooks/import_graph.py > docs/import-graph.svg"
    for unit in ("cli/", "fix/", "analyze/", "api", "errors", "codes"):
        assert f">{unit}</text>" in fresh


def test_the_import_graph_is_the_same_bytes_whatever_the_hash_seed() -> None:
    """CI once drew a different picture from the committed one: sets of names iterate in an order set
    by PYTHONHASHSEED, and the layout summed floats in that order."""
    drawings = {
        subprocess.run([sys.executable, str(HOOKS / "import_graph.py")], capture_output=True, text=True,
                       check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in (0, 1, 2, 3, 4, 5, 6, 7)
    }  # fmt: skip
    assert len(drawings) == 1


def test_the_graph_drawing_keeps_only_arrows_no_other_path_implies() -> None:
    graph = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}
    assert import_graph.reduction(graph) == {"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a"}}
    assert import_graph.layers(graph) == {"c": 0, "b": 1, "a": 2, "d": 3}
    with pytest.raises(ValueError, match="a -> b -> a"):
        import_graph.layers({"a": {"b"}, "b": {"a"}})


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    """At most 200 lines (issue 24), opening with the two set-up commands .ci/run and the demo rely on."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    commands = ("```bash\npython -m pip install -e . && preflight demo\n"
                "python -m pip install -e '.[dev]' && python -m pytest\n```\n")
    assert readme.index(commands) < readme.index("\n## "), "the README starts with the two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pip install -e '.[dev]' && python -m pytest" in ci


def test_every_page_the_readme_links_exists() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) > 15
    for link in links:
        if link.startswith("docs/reference/") and link.endswith((".md",)):
            page = ROOT / link
            assert page.exists() or link in GENERATED, link  # codes.md and matrix.md are built with the site
        else:
            assert (ROOT / link).exists(), link


GENERATED = {"docs/reference/codes.md", "docs/reference/matrix.md"}


@pytest.mark.slow
def test_the_site_builds_strict(tmp_path: Path) -> None:
    """The whole site, as .ci/run builds it: a broken link or anchor, or a page the nav lacks, fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    codes = (tmp_path / "reference" / "codes" / "index.html").read_text(encoding="utf-8")
    assert all(entry.code in codes for entry in CODES)
    cli_page = (tmp_path / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert all(f'id="preflight-{name}"' in cli_page for name in COMMANDS)
    assert (tmp_path / "import-graph.svg").read_text(encoding="utf-8").startswith("<svg ")
