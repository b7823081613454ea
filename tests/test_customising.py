"""A site's own look end to end: the custom_theme example, and overridden texts in the log."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from consentgate import ConsentConfig, Theme

from .helpers import SECRET, RecordingLog, choose, client_for, csrf_token, make_app, make_config

pytestmark = pytest.mark.anyio

STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)">')


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEY", "test-secret-for-the-example-0123456789abcdef")
    return importlib.import_module("examples.custom_theme.app")


async def test_the_custom_theme_example_renders_its_look(example: Any) -> None:
    async with client_for(example.app) as client:
        page = await client.get("/", headers={"accept-language": "da"})
        html = page.text
        # texts from the TOML, the template override's block, the theme's position
        assert "Må vi tælle dit besøg?" in html
        assert ">Ja, det er fint</button>" in html and ">Nej tak</button>" in html
        assert '<p class="site-banner-note">Vi bruger aldrig data til annoncer.</p>' in html
        assert 'data-position="box"' in html
        # the controller, compactly, on the first layer
        assert "Fjord &amp; Fyr Rådgivning ApS, Havnegade 12, 5000 Odense C" in html
        assert 'href="mailto:privatliv@fjordogfyr.example"' in html
        [_, theme_url] = STYLESHEET.findall(html)
        css = (await client.get(theme_url)).text
        assert "--cg-accent: #9a3412;" in css
        assert '--cg-font: "Source Sans 3", system-ui, sans-serif;' in css
        assert "@media (prefers-color-scheme: dark)" in css and "--cg-accent: #fdba74;" in css

        english = await client.get("/", headers={"accept-language": "en"})
        assert "May we count your visit?" in english.text
        assert "We never use data for advertising." in english.text


async def test_the_example_still_records_a_choice(example: Any) -> None:
    async with client_for(example.app) as client:
        response = await choose(client, "reject_all", next_path="/")
        assert response.status_code == 303
        assert "Vi bruger aldrig" not in (await client.get("/")).text


async def test_the_log_records_the_fingerprint_of_the_overridden_texts() -> None:
    async def fingerprint(**settings: Any) -> str:
        log = RecordingLog()
        async with client_for(make_app(make_config(store=log, **settings))) as client:
            page = await client.get("/", headers={"accept-language": "da"})
            await client.post(
                "/_consent",
                data={
                    "action": "reject_all",
                    "csrf_token": csrf_token(page.text),
                    "next": "/",
                    "source": "banner",
                    "lang": "da",
                },
                headers={"origin": "http://testserver"},
            )
        [record] = log.records
        return record.text_fingerprint

    builtin = await fingerprint()
    assert await fingerprint() == builtin
    overridden = await fingerprint(texts={"da": {"banner.reject_all": "Nej tak"}})
    assert overridden != builtin
    # the English texts are not what this Danish visitor saw
    assert await fingerprint(texts={"en": {"banner.reject_all": "No thanks"}}) == builtin
    # the look is not part of the text: a theme leaves the fingerprint alone
    assert await fingerprint(theme=Theme(accent="#9a3412")) == builtin


# -- the README's Customising section works as written ------------------------------------------


def customising_blocks(language: str) -> list[str]:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Customising") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


async def test_the_readme_toml_and_template_examples_work(tmp_path: Path) -> None:
    tomls, templates = customising_blocks("toml"), customising_blocks("jinja")
    assert len(tomls) == 3 and len(templates) == 1
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "banner.html").write_text(templates[0], encoding="utf-8")
    path = tmp_path / "consentgate.toml"
    top_level = f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\n' + tomls[2]
    provider = '[[providers]]\ntype = "google-analytics"\nmeasurement_id = "G-TEST123456"\n'
    path.write_text("\n".join([top_level, provider, *tomls[:2]]), encoding="utf-8")
    config = ConsentConfig.from_toml(path)
    assert config.theme is not None and config.theme.position == "box"
    async with client_for(make_app(config)) as client:
        html = (await client.get("/", headers={"accept-language": "da"})).text
    assert "Må vi tælle dit besøg?" in html
    assert '<p class="site-banner-note">We never use data for advertising.</p>' in html
    assert len(STYLESHEET.findall(html)) == 2
