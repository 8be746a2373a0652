"""The docs cannot drift from the code: every command and option is on its reference page, no page shows a flag a
command does not have, generated parts are current, every audit finding code is documented with its severity, and
the README's links lead somewhere."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
COMMANDS = list(gen.leaf_commands())


def test_every_command_is_found() -> None:
    """A sanity check on the walk itself: groups are descended, leaves are listed."""
    paths = {path for path, _ in COMMANDS}
    assert {"regcred node install", "regcred sa attach", "regcred plan", "regcred spec validate"} <= paths
    assert "regcred node" not in paths


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_command_and_options_are_on_its_reference_page(path: str, command: click.Command) -> None:
    page = gen.page_for(path)
    assert page.exists(), f"{path} has no reference page ({page.relative_to(ROOT)}): run docs/gen_reference.py"
    text = page.read_text(encoding="utf-8")
    assert f"`{path}`" in text, f"{page.name} does not name `{path}`"
    missing = [
        flag
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for flag in [*param.opts, *param.secondary_opts]
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
    ]
    assert not missing, f"{page.name} does not document {missing}"


def test_every_reference_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for path, _ in COMMANDS:
        assert f"reference/{gen.page_for(path).name}" in nav, f"{path}: page not in mkdocs.yml nav"


def test_generated_parts_are_current() -> None:
    assert gen.check() == [], "stale generated docs: run .venv/bin/python docs/gen_reference.py"


def test_check_notices_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The freshness check can fail: an option dropped from a copied page makes it stale."""
    copy = tmp_path / "docs" / "reference"
    copy.mkdir(parents=True)
    path, _ = next((p, c) for p, c in COMMANDS if p == "regcred node install")
    original = gen.page_for(path).read_text(encoding="utf-8")
    (copy / "node-install.md").write_text(original.replace("- `--prune`", "- `--prunes`"), encoding="utf-8")
    monkeypatch.setattr(gen, "REFERENCE", copy)
    monkeypatch.setattr(gen, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(gen, "leaf_commands", lambda: iter([c for c in COMMANDS if c[0] == path]))
    monkeypatch.setattr(gen, "SCHEMA_PAGE", tmp_path / "docs" / "absent.md")
    assert gen.check() == ["docs/reference/node-install.md", "docs/absent.md"]


def test_check_script_exits_0_when_current() -> None:
    done = subprocess.run([sys.executable, str(DOCS / "gen_reference.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_audit_code_is_documented_with_its_severity() -> None:
    from regcred.core.audit.findings import CODES

    text = (DOCS / "contracts" / "audit-codes.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", text, flags=re.MULTILINE))
    assert rows == CODES


def _anchors(page: Path) -> set[str]:
    """The anchors the site (and GitHub) give a page's headings, plus explicit `<a id>`s."""
    from pymdownx.slugs import slugify

    slug = slugify(case="lower")
    text = page.read_text(encoding="utf-8")
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)
    return {slug(h.replace("`", ""), "-") for h in headings} | set(re.findall(r'<a id="([^"]+)"', text))


def test_readme_links_lead_to_pages_and_anchors_that_exist() -> None:
    """The README is not part of the site, so the strict build does not check its links: this test does."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = [link for link in re.findall(r"\]\(([^)]+)\)", readme) if not link.startswith("http")]
    assert len(links) > 10
    for link in links:
        target, _, anchor = link.partition("#")
        page = ROOT / target
        assert page.is_file(), f"README links to {target}, which does not exist"
        assert not anchor or anchor in _anchors(page), f"README links to {link}: no such heading"


def test_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_bytes()) <= 10_000


def _command_lines(text: str) -> list[str]:
    """Every `regcred …` invocation in the code of a page: fenced blocks (continuation lines joined) and code spans."""
    text = text.replace(gen.BEGIN, "\0").replace(gen.END, "\0")
    text = "".join(part for i, part in enumerate(text.split("\0")) if i % 2 == 0)  # drop the generated blocks
    lines: list[str] = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and lines:
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
    lines += re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL))
    return lines


def _pages() -> list[tuple[str, str]]:
    return [(str(page.relative_to(ROOT)), page.read_text(encoding="utf-8"))
            for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]]


def _unknown_flags(pages: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(file, command path, flag) for every flag the pages give a regcred command that it does not have."""
    options = {
        path: {flag for p in command.params if isinstance(p, click.Option) for flag in [*p.opts, *p.secondary_opts]}
        | {"-h", "--help"}
        for path, command in COMMANDS
    }
    return sorted({(page, path, flag) for page, path, flag in _flags_used(pages) if flag not in options[path]})


def _flags_used(pages: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(file, command path, flag) for every flag given to a regcred command in these pages."""
    paths = sorted((p for p, _ in COMMANDS), key=len, reverse=True)
    found = []
    for name, text in pages:
        for line in _command_lines(text):
            line = re.split(r"\s#\s|\|\s*(?:kubectl|regcred|envsubst)\b|>\s", line)[0]
            for match in re.finditer(r"\bregcred ([a-z]+(?: [a-z]+)?)", line):
                path = next((p for p in paths if f"regcred {match.group(1)}".startswith(p)), None)
                if path is None:
                    continue
                rest = line[match.start() + len(path) :]
                for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", rest):
                    found.append((name, path, flag))
    return found


def test_flags_the_docs_give_a_command_exist() -> None:
    """The other direction: no page (nor the README) shows a command with a flag it does not have."""
    assert len(_flags_used(_pages())) > 100
    assert _unknown_flags(_pages()) == [], "flags the CLI does not have"


def test_unknown_flags_are_found_in_blocks_and_spans() -> None:
    planted = "```\nregcred apply -f x\n    [--workers N]\n```\nand `regcred sa attach pull -A --bogus`, `regcred plan | kubectl -x`"
    assert _unknown_flags([("x.md", planted)]) == [
        ("x.md", "regcred apply", "--workers"), ("x.md", "regcred sa attach", "--bogus")]
