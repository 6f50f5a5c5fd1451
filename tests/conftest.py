"""Shared fixtures: the real bundled model, loaded once, and real indexes built from the shipped corpus."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from healthqa import Encoder, Index, Settings, build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DATA = Path(__file__).resolve().parent / "data"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder()


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(index_dir=tmp_path_factory.mktemp("corpus-index"))


@pytest.fixture(scope="session")
def corpus_index(corpus_settings: Settings, encoder: Encoder) -> Index:
    """The whole sample corpus, built once per test session with the real model."""
    build([CORPUS], settings=corpus_settings, encoder=encoder)
    index = Index.open(corpus_settings.index_dir, settings=corpus_settings, encoder=encoder)
    yield index
    index.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index")


def page(body: str, *, title: str = "A test article", lang: str = "en", head: str = "") -> str:
    """A small but complete article page for unit tests."""
    lang_attribute = f' lang="{lang}"' if lang else ""
    return (
        f"<!DOCTYPE html><html{lang_attribute}><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta property='og:type' content='article'>{head}</head><body><nav><a href='/'>Home</a> <a href='/a'>News</a></nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>© 2024 Example</footer></body></html>"
    )


def paragraphs(count: int, sentence: str = "Digital health start-ups keep signing partnerships with large drug makers across Europe.") -> str:
    return "".join(f"<p>{sentence} Paragraph {n} adds its own detail about telemonitoring and data.</p>" for n in range(count))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()
