from pathlib import Path

import pytest

from healthqa import Settings, SourceError
from healthqa.extract import extract_file, extract_html, iter_html_files

from conftest import CORPUS, page, paragraphs

SETTINGS = Settings()
TECHTOMED = CORPUS / "santenumerique" / "2023-01-techtomed-priorites-laboratoires.html"


def test_metadata_comes_from_the_page():
    article = extract_file(CORPUS / "medtechledger" / "2022-06-kestrel-biosensing-series-b.html", SETTINGS)
    assert article.title.startswith("Kestrel Bio-Sensing raises")
    assert article.site == "MedTech Ledger"
    assert article.date == "2022-06-21"
    assert article.url == "https://www.medtechledger.com/funding/2022/06/kestrel-biosensing-series-b"
    assert article.language == "en"
    assert article.author
    assert len(article.id) == 16


def test_boilerplate_is_dropped_and_body_kept():
    article = extract_file(TECHTOMED, SETTINGS)
    assert "79 %" in article.text or "79%" in article.text
    for boilerplate in ("Tout accepter", "La Lettre du lundi", "Mentions légales", "Copier le lien", "À lire aussi"):
        assert boilerplate not in article.text
    article = extract_file(CORPUS / "medtechledger" / "2022-06-kestrel-biosensing-series-b.html", SETTINGS)
    for boilerplate in ("Accept all cookies", "The Ledger Briefing", "Share this story", "Read also", "All rights reserved"):
        assert boilerplate not in article.text


def test_headings_are_kept_as_markdown_lines():
    article = extract_file(TECHTOMED, SETTINGS)
    assert any(line.startswith("## ") for line in article.text.split("\n\n"))


def test_language_detected_when_the_page_does_not_say():
    undeclared = [p for p in (CORPUS / "echolabos").glob("*.html") if "<html>" in p.read_text(encoding="utf-8")]
    assert len(undeclared) == 3
    for path in undeclared:
        assert extract_file(path, SETTINGS).language == "fr"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pharmapulse/page-category-digital-health.html", "not an article: no running text"),
        ("pharmapulse/page-contact.html", r"too little text to be an article \(55 words, minimum 120\)"),
        ("medtechledger/page-cookie-wall.html", "cookie or consent wall"),
        ("medtechledger/page-empty.html", "no main text"),
        ("santenumerique/page-es-boletin.html", "language 'es' is not among the indexed languages"),
        ("echolabos/page-de-pressemitteilung.html", "language 'de'"),
    ],
)
def test_corpus_pages_that_are_not_articles(name, reason):
    with pytest.raises(SourceError, match=reason) as caught:
        extract_file(CORPUS / name, SETTINGS)
    assert caught.value.source.endswith(name)


def test_binary_file(tmp_path: Path):
    path = tmp_path / "photo.html"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(SourceError, match="binary file"):
        extract_file(path, SETTINGS)


def test_undecodable_bytes(tmp_path: Path):
    path = tmp_path / "latin.html"
    path.write_bytes(page(paragraphs(12)).replace("<meta charset='utf-8'>", "").encode("utf-8") + b"\xff\xfe caf\xe9")
    with pytest.raises(SourceError, match="undecodable bytes"):
        extract_file(path, SETTINGS)


def test_declared_charset_is_honoured():
    html = page(paragraphs(12, "Le café des start-up de santé numérique accueille les laboratoires à Lyon."), lang="fr")
    data = html.replace("charset='utf-8'", "charset='iso-8859-1'").encode("iso-8859-1")
    article = extract_html(data, source="latin1.html", settings=SETTINGS)
    assert "café" in article.text


def test_empty_and_plain_text_inputs():
    with pytest.raises(SourceError, match="empty file"):
        extract_html(b"   ", source="blank.html", settings=SETTINGS)
    with pytest.raises(SourceError, match="not an HTML page"):
        extract_html(b"just some words, no markup at all", source="notes.html", settings=SETTINGS)


def test_short_page_is_not_an_article():
    with pytest.raises(SourceError, match="too little text"):
        extract_html(page("<p>Call us on 0100 for a demo of our digital health platform today.</p>"), source="s.html", settings=SETTINGS)


def test_configured_languages_are_a_setting():
    path = CORPUS / "santenumerique" / "page-es-boletin.html"
    article = extract_file(path, Settings(languages=("en", "fr", "es")))
    assert article.language == "es"


def test_folders_are_walked_for_html_only(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "one.html").write_text("x")
    (tmp_path / "a" / "two.htm").write_text("x")
    (tmp_path / "a" / "notes.txt").write_text("x")
    assert [p.name for p in iter_html_files([tmp_path])] == ["one.html", "two.htm"]
    with pytest.raises(SourceError, match="no such file or folder"):
        list(iter_html_files([tmp_path / "missing"]))
