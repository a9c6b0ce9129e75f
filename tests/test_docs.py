"""The documentation stays true to the code: the generated reference pages are what scripts/docs.py
renders now (the cog pattern), every command's --help has a summary, an example and its docs link, the
record format page lists exactly the record's fields, the README's links lead somewhere and its quickstart
is what the commands print today."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from litkb.models import RECORD_FIELDS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITKB_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_the_generated_pages_are_what_the_code_renders_now() -> None:
    """Run `bash scripts/docs.sh` (or scripts/docs.py) and commit when this fails."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs.py"), "--check"],
        capture_output=True, text=True, timeout=300, env=clean_env(),
    )
    assert done.returncode == 0, done.stderr


def test_the_check_fails_on_a_page_that_differs(tmp_path: Path) -> None:
    """--check is not a check that cannot fail: a changed copy of a page is found."""
    shutil.copytree(ROOT / "docs" / "reference", tmp_path / "docs" / "reference")
    page = tmp_path / "docs" / "reference" / "web-routes.md"
    page.write_text(page.read_text(encoding="utf-8").replace("The inbox", "The outbox"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs.py"), "--check", "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=clean_env(),
    )
    assert done.returncode == 1 and "docs/reference/web-routes.md" in done.stderr
    assert done.stderr.count("docs/reference/") == 1  # the others are found current


def commands() -> list[tuple[list[str], Any]]:
    return list(load_script("docs").command_tree())


def test_every_command_has_a_summary_an_example_and_a_docs_section() -> None:
    reference = (ROOT / "docs" / "reference" / "commands.md").read_text(encoding="utf-8")
    tree = commands()
    assert len(tree) > 25
    for path, command in tree:
        name = " ".join(["litkb", *path])
        summary = " ".join((command.help or "").split("\n\n")[0].split())
        assert 15 < len(summary) <= 88, f"{name}: its help does not start with a one-line summary: {summary}"
        epilog = command.epilog or ""
        if path:
            anchor = "-".join(["litkb", *path])
            assert epilog == f"Docs: docs/reference/commands.md#{anchor}", name
            assert f"\n#{'#' * min(len(path), 3)} {name}\n" in reference, f"{name}: no section in commands.md"
            assert f"(#{anchor})" in reference
            if not hasattr(command, "list_commands"):  # a group's help lists its commands instead
                assert "Example:" in (command.help or ""), f"{name}: its help has no example"
        else:
            assert "docs/reference/commands.md" in epilog and "docs/tutorial.md" in epilog
    # The docs links in --help name real files.
    assert (ROOT / "docs" / "reference" / "commands.md").exists() and (ROOT / "docs" / "tutorial.md").exists()


def test_the_record_format_page_lists_exactly_the_record_fields() -> None:
    page = (ROOT / "docs" / "reference" / "records.md").read_text(encoding="utf-8")
    table = re.search(r"\| field \| meaning \|\n\|---\|---\|\n((?:\|.*\n)+)", page)
    assert table is not None
    listed = [re.match(r"\| `([a-z_]+)` \|", row).group(1) for row in table.group(1).splitlines()]  # type: ignore[union-attr]
    assert listed == list(RECORD_FIELDS)


def test_version_is_the_same_everywhere_and_shown() -> None:
    from typer.testing import CliRunner

    import litkb
    from litkb.cli import app

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert litkb.__version__ == project["version"] == "0.2.0"
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"litkb {project['version']}\n"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{project['version']}]" in changelog


def test_the_readme_is_a_front_door_whose_links_lead_somewhere() -> None:
    text = README.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert 150 <= lines <= 260, f"README.md has {lines} lines"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://", "mailto:")):
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"
    # The set-up commands, unchanged, and every script .ci/run runs.
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for script in re.findall(r"scripts/[\w.]+", ci):
        assert script in text, f".ci/run runs {script}; README.md does not say so"


def test_every_docs_page_is_in_the_navigation() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(entry: Any) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        if isinstance(entry, list):
            return [p for item in entry for p in pages(item)]
        return [p for value in entry.values() for p in pages(value)]

    in_nav = set(pages(config["nav"]))
    on_disk = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert on_disk == in_nav


@pytest.mark.model
def test_the_readme_quickstart_is_what_the_commands_print(tmp_path: Path) -> None:
    """The README's transcript is scripts/quickstart.py's output from a real run (the real model on the
    shipped listing); `scripts/quickstart.py --write` puts a new one in the README."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "quickstart.py"), "--check", "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env=clean_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
