"""The project's documents are in the project: a newcomer with only a clone finds every one the README and
the docs link to, and nothing points outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OUTSIDE = "../" + "shared/"  # written in two pieces so that this file does not match itself


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in listed.splitlines()]


def test_no_file_in_the_repository_points_at_the_team_folder_beside_it():
    pointing = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        if OUTSIDE in text:
            pointing.append(str(path.relative_to(ROOT)))
    assert pointing == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_link_of_a_document_reaches_a_file_of_the_repository(document):
    links = re.findall(r"\]\(([^)\s]+)\)", document.read_text(encoding="utf-8"))
    for link in links:
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        target = (document.parent / link.split("#", 1)[0]).resolve()
        assert target.is_relative_to(ROOT), (document.name, link)
        assert target.exists(), (document.name, link)


def test_the_readme_links_the_policy_the_architecture_the_api_guide_and_the_event_catalogue():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/policy.md", "docs/architecture.md", "docs/api.md", "docs/asyncapi.json"):
        assert f"]({name})" in readme, name


def test_every_token_the_documents_mint_names_an_agency_that_may_hold_its_scopes():
    # The README once told the ops team to mint civil_affairs tokens for the bureaus' runs (utilities:write,
    # …): shared.auth refuses those, so a newcomer following the text was stopped at the first step.
    from shared import agencies

    minted = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8").replace("\\\n", " ")
        minted += re.findall(r"--agency ([a-z][a-z_0-9]*)(?:(?!--agency)[^\n`|])*?--scope (\"[^\"]*\"|[a-z_:]+)", text)
    assert len(minted) >= 5, minted
    for agency, scopes in minted:
        found = agencies.find(agency)
        assert found is not None, agency
        beyond = set(scopes.strip('"').split()) - found[0].scopes
        assert beyond == set(), (agency, scopes)
