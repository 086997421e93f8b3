"""CITATION.cff is valid Citation File Format 1.2.0 (checked offline) and cites the seed paper; LICENSE matches setup.cfg."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

import statvae

ROOT = Path(__file__).resolve().parents[1]

#: Top-level keys of CFF 1.2.0 (the schema forbids any other) and the required ones.
CFF_KEYS = {"abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi", "identifiers",
            "keywords", "license", "license-url", "message", "preferred-citation", "references", "repository",
            "repository-artifact", "repository-code", "title", "type", "url", "version"}
CFF_REQUIRED = {"authors", "cff-version", "message", "title"}
#: Keys of a reference (CFF 1.2.0 ``definitions.reference``) used here, and the ones it requires.
REFERENCE_REQUIRED = {"authors", "title", "type"}
REFERENCE_TYPES = {"art", "article", "audiovisual", "bill", "blog", "book", "catalogue", "conference-paper",
                   "conference", "data", "database", "dictionary", "edited-work", "encyclopedia", "film-broadcast",
                   "generic", "government-document", "grant", "hearing", "historical-work", "legal-case",
                   "legal-rule", "magazine-article", "manual", "map", "multimedia", "music", "newspaper-article",
                   "pamphlet", "patent", "personal-communication", "proceedings", "report", "serial", "slides",
                   "software", "software-code", "software-container", "software-executable",
                   "software-virtual-machine", "sound-recording", "standard", "statute", "thesis", "unpublished",
                   "video", "website"}
PERSON_KEYS = {"address", "affiliation", "alias", "city", "country", "email", "family-names", "fax", "given-names",
               "name-particle", "name-suffix", "orcid", "post-code", "region", "tel", "website"}
ENTITY_KEYS = {"address", "alias", "city", "country", "date-end", "date-start", "email", "fax", "location", "name",
               "orcid", "post-code", "region", "tel", "website"}


def _cff() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads CITATION.cff (pip install pyyaml)")
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert isinstance(data, dict), "CITATION.cff is not a YAML mapping"
    return data


def _check_authors(authors, where: str) -> None:
    assert isinstance(authors, list) and authors, f"{where}: authors must be a non-empty list"
    for a in authors:
        assert isinstance(a, dict), f"{where}: an author must be a mapping"
        if "name" in a:  # an entity
            assert set(a) <= ENTITY_KEYS and isinstance(a["name"], str) and a["name"], (where, a)
        else:  # a person: at least one name part
            assert set(a) <= PERSON_KEYS, (where, a)
            assert any(isinstance(a.get(k), str) and a[k] for k in ("family-names", "given-names")), (where, a)


def test_cff_structure():
    cff = _cff()
    assert CFF_REQUIRED <= set(cff), f"missing {CFF_REQUIRED - set(cff)}"
    assert set(cff) <= CFF_KEYS, f"keys CFF 1.2.0 does not allow: {set(cff) - CFF_KEYS}"
    assert cff["cff-version"] == "1.2.0"
    assert isinstance(cff["message"], str) and cff["message"]
    assert cff.get("type", "software") == "software"
    _check_authors(cff["authors"], "software")
    assert str(cff["version"]) == statvae.__version__
    assert cff.get("preferred-citation") is None, "the software itself is what the file cites first"
    for ident in cff.get("identifiers", []):
        assert ident["type"] in ("doi", "url", "swh", "other") and ident["value"]


def test_cff_license_matches_setup_cfg_and_license_file():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    license_ = cfg["metadata"]["license"]
    assert license_ == "MIT"
    assert _cff()["license"] == license_
    assert cfg["metadata"]["license_files"].strip() == "LICENSE"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_cff_cites_the_seed_paper():
    refs = _cff().get("references")
    assert isinstance(refs, list) and refs
    for r in refs:
        assert REFERENCE_REQUIRED <= set(r), f"a reference lacks {REFERENCE_REQUIRED - set(r)}"
        assert r["type"] in REFERENCE_TYPES
        _check_authors(r["authors"], r["title"])
    seed = [r for r in refs if r["title"] == "Posterior Collapse as a Phase Transition in Variational Autoencoders"]
    assert len(seed) == 1, "the seed paper is cited once"
    (seed,) = seed
    assert seed["type"] == "article"
    assert [a["family-names"] for a in seed["authors"]] == ["Li", "Zhang", "Zhang", "Chen"]
    assert seed["year"] == 2026 and "Physica A" in seed["journal"]
    arxiv = [i["value"] for i in seed.get("identifiers", [])] + [seed.get("url", "")]
    assert any(re.search(r"(?<![\d.])2510\.01621(?![\d])", str(v)) for v in arxiv), arxiv
