"""ConsentConfig: every invalid value names its field; valid configs and TOML files load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from consentgate import BUILTIN_CATEGORIES, Category, ConfigurationError, ConsentConfig
from consentgate.providers import (
    Buffer,
    DeclaredCookie,
    GoogleAnalytics,
    JetpackStats,
    Provider,
    SiteKit,
)

from .helpers import OLD_SECRET, SECRET, make_config

ENV = "CONSENTGATE_SECRET_KEY"


def field_of(**settings: Any) -> str:
    """The ``.field`` of the ConfigurationError that ``ConsentConfig(**settings)`` raises."""
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig(**settings)
    return caught.value.field


def minimal(**overrides: Any) -> dict[str, Any]:
    return {"secret_key": SECRET, "store": "sqlite:///:memory:", **overrides}


# -- secrets ----------------------------------------------------------------


def test_missing_secret_names_secret_key() -> None:
    assert field_of(store="sqlite:///:memory:") == "secret_key"


def test_empty_secret_key_counts_as_missing() -> None:
    assert field_of(**minimal(secret_key="")) == "secret_key"


def test_short_secret_names_secret_key() -> None:
    assert field_of(**minimal(secret_key="x" * 31)) == "secret_key"


def test_secret_of_exactly_minimum_length_is_accepted() -> None:
    assert ConsentConfig(**minimal(secret_key="x" * 32)).signing_keys == ("x" * 32,)


def test_secret_key_and_secret_keys_together_name_secret_keys() -> None:
    assert field_of(**minimal(secret_keys=(OLD_SECRET,))) == "secret_keys"


def test_secret_keys_as_a_bare_string_names_secret_keys() -> None:
    assert field_of(store="sqlite:///:memory:", secret_keys=SECRET) == "secret_keys"


def test_short_rotated_key_names_its_index() -> None:
    assert field_of(secret_keys=(SECRET, "short")) == "secret_keys[1]"


def test_configuration_error_is_a_value_error_with_the_field_in_its_message() -> None:
    with pytest.raises(ValueError, match=r"^secret_key: "):
        ConsentConfig(secret_key="short")


# -- policy, categories, providers -------------------------------------------


@pytest.mark.parametrize("version", ["", "   "])
def test_empty_policy_version_is_rejected(version: str) -> None:
    assert field_of(**minimal(policy_version=version)) == "policy_version"


def test_provider_of_unknown_category_names_its_category() -> None:
    chat = Provider(name="chat", title="Chat", category="social")
    assert field_of(**minimal(providers=[chat])) == "providers[0].category"


def test_same_provider_twice_names_the_second() -> None:
    providers = [GoogleAnalytics("G-TEST123456"), GoogleAnalytics("G-TEST123456")]
    assert field_of(**minimal(providers=providers)) == "providers[1]"


def test_two_analytics_properties_are_not_duplicates() -> None:
    providers = [GoogleAnalytics("G-TEST123456"), GoogleAnalytics("G-OTHER12345")]
    assert len(ConsentConfig(**minimal(providers=providers)).providers) == 2


def test_universal_analytics_id_names_the_measurement_id() -> None:
    providers = [GoogleAnalytics("UA-1234")]
    assert field_of(**minimal(providers=providers)) == "providers[0].measurement_id"


def test_bad_provider_after_a_good_one_names_its_index() -> None:
    providers = [Buffer(), JetpackStats(blog_id=0)]
    assert field_of(**minimal(providers=providers)) == "providers[1].blog_id"


def test_non_provider_in_providers_is_rejected() -> None:
    assert field_of(**minimal(providers=["google-analytics"])) == "providers[0]"


def test_own_category_without_title_names_its_title() -> None:
    assert field_of(**minimal(categories=[Category(name="social")])) == "categories[0].title"


@pytest.mark.parametrize("name", [c.name for c in BUILTIN_CATEGORIES])
def test_own_category_may_not_reuse_a_builtin_name(name: str) -> None:
    categories = [Category(name=name, title="Mine")]
    assert field_of(**minimal(categories=categories)) == "categories[0].name"


def test_own_category_defined_twice_names_the_second() -> None:
    categories = [Category(name="social", title="Social"), Category(name="social", title="Again")]
    assert field_of(**minimal(categories=categories)) == "categories[1].name"


@pytest.mark.parametrize("name", ["Social", "1social", "", "so cial", "x" * 41])
def test_own_category_with_invalid_name_is_rejected(name: str) -> None:
    categories = [Category(name=name, title="Social")]
    assert field_of(**minimal(categories=categories)) == "categories[0].name"


# -- cookie, paths, language, origins, links ----------------------------------


@pytest.mark.parametrize("name", ["", "my cookie", "a;b", "a=b", "ø", "x" * 65])
def test_bad_cookie_name_is_rejected(name: str) -> None:
    assert field_of(**minimal(cookie_name=name)) == "cookie_name"


@pytest.mark.parametrize("max_age", [0, -1])
def test_non_positive_cookie_max_age_is_rejected(max_age: int) -> None:
    assert field_of(**minimal(cookie_max_age=max_age)) == "cookie_max_age"


def test_a_choice_lasts_six_months_by_default() -> None:
    assert ConsentConfig(**minimal()).cookie_max_age == 182 * 86400


def test_cookie_max_age_is_capped_at_thirteen_months() -> None:
    assert ConsentConfig(**minimal(cookie_max_age=395 * 86400)).cookie_max_age == 395 * 86400
    assert field_of(**minimal(cookie_max_age=395 * 86400 + 1)) == "cookie_max_age"


@pytest.mark.parametrize(
    "domain",
    ["example", ".com", "http://example.com", "example.com/", "-bad.example.com", "ex ample.com"],
)
def test_bad_cookie_domain_is_rejected(domain: str) -> None:
    assert field_of(**minimal(cookie_domain=domain)) == "cookie_domain"


@pytest.mark.parametrize("domain", [".example.com", "example.com", ".shop.example.co.uk"])
def test_good_cookie_domain_is_accepted(domain: str) -> None:
    assert ConsentConfig(**minimal(cookie_domain=domain)).cookie_domain == domain


def test_a_host_prefixed_cookie_name_is_accepted() -> None:
    config = ConsentConfig(**minimal(cookie_name="__Host-consentgate"))
    assert config.cookie_name == "__Host-consentgate"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cookie_name": "__Host-consentgate", "cookie_domain": ".example.com"}, "cookie_domain"),
        ({"cookie_name": "__Host-consentgate", "cookie_secure": False}, "cookie_secure"),
        ({"cookie_name": "__Secure-consentgate", "cookie_secure": False}, "cookie_secure"),
    ],
)
def test_a_cookie_prefix_the_settings_break_is_refused(
    overrides: dict[str, object], field: str
) -> None:
    assert field_of(**minimal(**overrides)) == field


@pytest.mark.parametrize("prefix", ["_consent", "/x/", "/", "", "/a b", "/_consent//x"])
def test_bad_prefix_is_rejected(prefix: str) -> None:
    assert field_of(**minimal(prefix=prefix)) == "prefix"


@pytest.mark.parametrize("prefix", ["/_consent", "/cookies/consent", "/x"])
def test_good_prefix_is_accepted(prefix: str) -> None:
    assert ConsentConfig(**minimal(prefix=prefix)).prefix == prefix


@pytest.mark.parametrize("prefix", ["/..", "/.", "/_consent/.."])
def test_prefix_made_of_dot_segments_is_rejected(prefix: str) -> None:
    assert field_of(**minimal(prefix=prefix)) == "prefix"


def test_exclude_path_without_leading_slash_names_its_index() -> None:
    assert field_of(**minimal(exclude_paths=["/admin", "api"])) == "exclude_paths[1]"


def test_unknown_default_language_is_rejected() -> None:
    assert field_of(**minimal(default_language="tlh")) == "default_language"


@pytest.mark.parametrize(
    "origin",
    ["www.example.com", "https://example.com/", "https://example.com/path", "ftp://example.com"],
)
def test_malformed_trusted_origin_names_its_index(origin: str) -> None:
    origins = ["https://www.example.com", origin]
    assert field_of(**minimal(trusted_origins=origins)) == "trusted_origins[1]"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "privacy", "data:text/html,x", ""])
def test_privacy_policy_url_must_be_http_or_a_path(url: str) -> None:
    assert field_of(**minimal(privacy_policy_url=url)) == "privacy_policy_url"


@pytest.mark.parametrize("url", ["//evil.example/privacy", "/\\evil.example", "https://"])
def test_privacy_policy_url_rejects_off_site_paths_and_hostless_urls(url: str) -> None:
    assert field_of(**minimal(privacy_policy_url=url)) == "privacy_policy_url"


@pytest.mark.parametrize("name", ["store_timeout", "csrf_max_age"])
def test_non_positive_durations_are_rejected(name: str) -> None:
    assert field_of(**minimal(**{name: 0})) == name


# -- valid configs -------------------------------------------------------------


def test_rotated_secret_keys_are_signing_keys_newest_first() -> None:
    config = ConsentConfig(secret_keys=[SECRET, OLD_SECRET], store="sqlite:///:memory:")
    assert config.signing_keys == (SECRET, OLD_SECRET)


def test_single_secret_key_is_the_only_signing_key() -> None:
    assert ConsentConfig(**minimal()).signing_keys == (SECRET,)


def test_optional_categories_are_builtins_in_order_then_the_sites_own() -> None:
    config = make_config(
        categories=[Category(name="social", title={"en": "Social", "da": "Socialt"})]
    )
    assert config.optional_categories == ("preferences", "statistics", "marketing", "social")


def test_site_category_can_hold_providers() -> None:
    chat = Provider(name="chat", title="Chat", category="social")
    config = make_config(providers=[chat], categories=[Category(name="social", title="Social")])
    assert [c.name for c in config.all_categories][-1] == "social"
    assert config.providers[0].category == "social"


def test_secrets_are_not_in_the_repr() -> None:
    config = ConsentConfig(secret_keys=[SECRET, OLD_SECRET], store="sqlite:///:memory:")
    assert SECRET not in repr(config) and OLD_SECRET not in repr(config)


# -- from_toml -----------------------------------------------------------------

FULL_TOML = f"""
secret_key = "{SECRET}"
policy_version = "2026-11"
store = "sqlite:///:memory:"
controller_name = "Testfirma ApS"
privacy_policy_url = "/privatliv"
cookie_domain = ".example.com"
exclude_paths = ["/admin"]
trusted_origins = ["https://www.example.com"]

[[providers]]
type = "google-analytics"
measurement_id = "G-TEST123456"
send_page_view = false

[[providers]]
type = "site-kit"
measurement_id = "G-SITEKIT123"
extra_tag_ids = ["AW-123456789"]

[[providers]]
type = "jetpack-stats"
blog_id = 4242
site_host = "www.example.com"

[[providers]]
type = "buffer"
share_button = false

[[providers]]
type = "custom"
name = "chat"
title = "Chat"
category = "social"
body = "<script src='https://chat.example/widget.js'></script>"

[[providers.cookies]]
name = "chat_*"
purpose = {{ en = "Keeps the chat open", da = "Holder chatten åben" }}
expiry = "1 day"
party = "third"

[[categories]]
name = "social"
title = {{ en = "Social", da = "Socialt" }}
description = "Chat with us."
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "consentgate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def toml_field(path: Path) -> str:
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig.from_toml(path)
    return caught.value.field


def test_from_toml_builds_every_provider_type(tmp_path: Path) -> None:
    config = ConsentConfig.from_toml(write(tmp_path, FULL_TOML))
    assert tuple(config.providers) == (
        GoogleAnalytics("G-TEST123456", send_page_view=False),
        SiteKit("G-SITEKIT123", extra_tag_ids=("AW-123456789",)),
        JetpackStats(4242, site_host="www.example.com"),
        Buffer(share_button=False),
        Provider(
            name="chat",
            title="Chat",
            category="social",
            body="<script src='https://chat.example/widget.js'></script>",
            cookies=(
                DeclaredCookie(
                    name="chat_*",
                    purpose={"en": "Keeps the chat open", "da": "Holder chatten åben"},
                    expiry="1 day",
                    party="third",
                ),
            ),
        ),
    )


def test_from_toml_reads_categories_and_settings(tmp_path: Path) -> None:
    config = ConsentConfig.from_toml(write(tmp_path, FULL_TOML))
    assert tuple(config.categories) == (
        Category(
            name="social", title={"en": "Social", "da": "Socialt"}, description="Chat with us."
        ),
    )
    assert config.optional_categories[-1] == "social"
    assert config.cookie_domain == ".example.com"
    assert tuple(config.exclude_paths) == ("/admin",)
    assert tuple(config.trusted_origins) == ("https://www.example.com",)
    assert config.controller_name == "Testfirma ApS"


def test_from_toml_takes_the_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, OLD_SECRET)
    config = ConsentConfig.from_toml(write(tmp_path, 'store = "sqlite:///:memory:"\n'))
    assert config.signing_keys == (OLD_SECRET,)


def test_from_toml_secret_in_file_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, OLD_SECRET)
    config = ConsentConfig.from_toml(write(tmp_path, FULL_TOML))
    assert config.signing_keys == (SECRET,)


def test_from_toml_secret_keys_in_file_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "from-the-environment-and-long-enough-000000")
    text = f'secret_keys = ["{SECRET}", "{OLD_SECRET}"]\nstore = "sqlite:///:memory:"\n'
    config = ConsentConfig.from_toml(write(tmp_path, text))
    assert config.signing_keys == (SECRET, OLD_SECRET)


def test_from_toml_without_any_secret_names_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert toml_field(write(tmp_path, 'store = "sqlite:///:memory:"\n')) == "secret_key"


def test_from_toml_unknown_key_is_named(tmp_path: Path) -> None:
    text = f'secret_key = "{SECRET}"\ncookie_nmae = "x"\n'
    assert toml_field(write(tmp_path, text)) == "cookie_nmae"


def test_from_toml_unknown_provider_type_names_the_type(tmp_path: Path) -> None:
    text = f'secret_key = "{SECRET}"\n[[providers]]\ntype = "plausible"\n'
    assert toml_field(write(tmp_path, text)) == "providers[0].type"


def test_from_toml_provider_without_type_names_the_type(tmp_path: Path) -> None:
    text = f'secret_key = "{SECRET}"\n[[providers]]\nmeasurement_id = "G-TEST123456"\n'
    assert toml_field(write(tmp_path, text)) == "providers[0].type"


def test_from_toml_unknown_provider_argument_names_the_provider(tmp_path: Path) -> None:
    text = f'secret_key = "{SECRET}"\n[[providers]]\ntype = "buffer"\ncolour = "red"\n'
    assert toml_field(write(tmp_path, text)) == "providers[0]"


def test_from_toml_invalid_toml_names_path(tmp_path: Path) -> None:
    assert toml_field(write(tmp_path, "secret_key = \n")) == "path"


def test_from_toml_missing_file_names_path(tmp_path: Path) -> None:
    assert toml_field(tmp_path / "missing.toml") == "path"


def test_from_toml_accepts_a_consentgate_table(tmp_path: Path) -> None:
    text = f"""
[consentgate]
secret_key = "{SECRET}"
policy_version = "7"
store = "sqlite:///:memory:"

[[consentgate.providers]]
type = "google-analytics"
measurement_id = "G-TEST123456"
"""
    config = ConsentConfig.from_toml(write(tmp_path, text))
    assert config.policy_version == "7"
    assert tuple(config.providers) == (GoogleAnalytics("G-TEST123456"),)


def test_lists_become_tuples_so_a_config_stays_frozen() -> None:
    config = ConsentConfig(**minimal(exclude_paths=["/admin"], trusted_origins=["https://a.dk"]))
    assert config.exclude_paths == ("/admin",)
    assert config.trusted_origins == ("https://a.dk",)
    assert isinstance(config.providers, tuple)


def test_a_provider_cookie_may_not_cover_the_consent_cookie() -> None:
    from consentgate.providers import DeclaredCookie, Provider

    greedy = Provider(
        name="greedy",
        title="Greedy",
        category="statistics",
        cookies=(DeclaredCookie(name="consent*", purpose="x", expiry="1 day"),),
    )
    assert field_of(**minimal(providers=[greedy])) == "providers[0].cookies[0]"


@pytest.mark.parametrize("origin", ["https://a.dk/path", "https://user@a.dk", "https://a.dk?x"])
def test_trusted_origins_are_bare_origins(origin: str) -> None:
    assert field_of(**minimal(trusted_origins=[origin])) == "trusted_origins[0]"


@pytest.mark.parametrize("store", ["mysql://db/consent", "consent.db", "sqlite://host/x.db", 42])
def test_a_wrong_store_is_caught_when_the_config_is_built(store: object) -> None:
    assert field_of(**minimal(store=store)) == "store"


# -- the look: controller details, theme, texts, template folders ----------------------------


@pytest.mark.parametrize("email", ["privacy@example.dk", "first.last+gdpr@sub.example.co.uk"])
def test_controller_email_is_accepted(email: str) -> None:
    assert ConsentConfig(**minimal(controller_email=email)).controller_email == email


@pytest.mark.parametrize(
    "email", ["privacy", "a@b", "a b@example.dk", 'x"@example.dk', "a@example.dk>", "@example.dk"]
)
def test_a_malformed_controller_email_names_the_field(email: str) -> None:
    assert field_of(**minimal(controller_email=email)) == "controller_email"


@pytest.mark.parametrize("name", ["controller_name", "controller_address"])
def test_blank_controller_details_are_refused(name: str) -> None:
    assert field_of(**minimal(**{name: "  "})) == name


def test_theme_errors_name_the_theme_field() -> None:
    from consentgate import Theme

    assert field_of(**minimal(theme=Theme(accent="red;x"))) == "theme.accent"


def test_text_overrides_are_flattened_and_checked() -> None:
    config = ConsentConfig(
        **minimal(texts={"da": {"banner": {"title": "Cookies?"}, "banner.accept_all": "Ja tak"}})
    )
    assert dict(config.texts["da"]) == {"banner.title": "Cookies?", "banner.accept_all": "Ja tak"}


def test_an_unknown_language_lists_the_available_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig(**minimal(texts={"dk": {"banner.title": "x"}}))
    assert caught.value.field == "texts.dk"
    assert "da, de, en" in str(caught.value)


def test_an_unknown_key_suggests_the_near_one_and_lists_all() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig(**minimal(texts={"en": {"banner.titel": "x"}}))
    assert caught.value.field == "texts.en.banner.titel"
    message = str(caught.value)
    assert "did you mean 'banner.title'?" in message
    assert "banner.accept_all" in message and "preferences.controller" in message


def test_texts_of_a_site_category_point_to_the_category() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig(**minimal(texts={"da": {"categories.social.title": "Socialt"}}))
    assert "a site's own category brings its texts: Category(title=...)" in str(caught.value)


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("banner.title", ""),
        ("banner.title", 42),
        ("banner.title", "Cookies at {controller}"),
        ("banner.intro", "{company} uses cookies"),
        ("banner.intro", "{controller} uses { cookies"),
        ("banner.intro", "{0} uses cookies"),
        ("banner.intro", "{controller!r} uses cookies"),
        ("banner.intro", "{controller.__class__} uses cookies"),
        ("banner.intro", "{controller[0]} uses cookies"),
        ("consent_cookie.expiry", "{days:>5} days"),
    ],
)
def test_a_broken_text_names_its_key(key: str, text: object) -> None:
    assert field_of(**minimal(texts={"en": {key: text}})) == f"texts.en.{key}"


def test_texts_may_drop_or_keep_their_placeholders_and_use_literal_braces() -> None:
    config = ConsentConfig(
        **minimal(
            texts={
                "en": {
                    "banner.intro": "We use cookies {{sparingly}}.",
                    "consent_cookie.expiry": "{days} days",
                    "banner.title": "Cookies {yes, braces}",
                }
            }
        )
    )
    assert config.texts["en"]["banner.intro"] == "We use cookies {{sparingly}}."


@pytest.mark.parametrize("texts", [["da"], {"da": "Cookies"}])
def test_texts_must_be_tables(texts: object) -> None:
    assert field_of(**minimal(texts=texts)).startswith("texts")


def test_template_dirs_must_be_folders(tmp_path: Path) -> None:
    assert field_of(**minimal(template_dirs=[tmp_path, tmp_path / "missing"])) == (
        "template_dirs[1]"
    )
    assert field_of(**minimal(template_dirs=[42])) == "template_dirs[0]"


LOOK_TOML = f"""
secret_key = "{SECRET}"
store = "sqlite:///:memory:"
controller_name = "Testfirma ApS"
controller_address = "Vestergade 1, 8000 Aarhus C"
controller_email = "privacy@testfirma.dk"
template_dirs = ["site-templates"]

[theme]
accent = "#c2410c"
radius = 4
position = "box"

[theme.dark]
accent = "#fdba74"

[texts.da]
"banner.title" = "Må vi bruge cookies?"

[texts.en.banner]
title = "May we use cookies?"
"""


def test_from_toml_reads_theme_texts_and_template_dirs_next_to_the_file(tmp_path: Path) -> None:
    from consentgate import Theme

    (tmp_path / "site-templates").mkdir()
    config = ConsentConfig.from_toml(write(tmp_path, LOOK_TOML))
    assert config.theme == Theme(
        accent="#c2410c", radius=4, position="box", dark={"accent": "#fdba74"}
    )
    assert config.texts["da"]["banner.title"] == "Må vi bruge cookies?"
    assert config.texts["en"]["banner.title"] == "May we use cookies?"
    assert tuple(config.template_dirs) == (tmp_path / "site-templates",)
    assert config.controller_email == "privacy@testfirma.dk"


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('[theme]\naccent = "red; x"', "theme.accent"),
        ('[theme]\ncolour = "red"', "theme"),
        ('theme = "dark"', "theme"),
        ('[theme.dark]\naccent = "url(x)"', "theme.dark.accent"),
        ('[texts.da]\n"banner.titel" = "x"', "texts.da.banner.titel"),
        ('[texts.xx]\n"banner.title" = "x"', "texts.xx"),
    ],
)
def test_from_toml_look_errors_name_the_field(tmp_path: Path, table: str, field: str) -> None:
    text = f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\n{table}\n'
    assert toml_field(write(tmp_path, text)) == field


def test_from_toml_takes_a_relative_sqlite_path_from_the_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    path = write(site, f'secret_key = "{SECRET}"\nstore = "sqlite:///data/consent.db"\n')
    monkeypatch.chdir(tmp_path)  # started from elsewhere, with a relative path to the file
    config = ConsentConfig.from_toml(Path("site") / "consentgate.toml")
    assert config.store == f"sqlite:///{site / 'data' / 'consent.db'}"
    assert config.outbox_path == site / "data" / "consent.db-outbox"
    assert path.parent.is_absolute()


@pytest.mark.parametrize(
    "store",
    [
        "sqlite:////var/lib/site/consentgate.db",
        "sqlite:///:memory:",
        "postgresql://consent@db.internal/site",
    ],
)
def test_from_toml_keeps_absolute_memory_and_postgresql_stores(tmp_path: Path, store: str) -> None:
    config = ConsentConfig.from_toml(
        write(tmp_path, f'secret_key = "{SECRET}"\nstore = "{store}"\n')
    )
    assert config.store == store


def test_from_mapping_takes_tables_and_objects_alike() -> None:
    config = ConsentConfig.from_mapping(
        {
            "secret_key": SECRET,
            "store": "sqlite:///:memory:",
            "providers": [
                GoogleAnalytics("G-TEST123456"),
                {"type": "buffer", "share_button": False},
            ],
            "categories": [{"name": "social", "title": {"en": "Social"}}],
            "theme": {"accent": "#9a3412"},
        }
    )
    assert tuple(config.providers) == (GoogleAnalytics("G-TEST123456"), Buffer(share_button=False))
    assert [c.name for c in config.categories] == ["social"]
    assert config.theme is not None and config.theme.accent == "#9a3412"


def test_from_toml_takes_a_relative_outbox_from_the_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\noutbox = "consent.outbox"\n')
    monkeypatch.chdir("/")
    assert ConsentConfig.from_toml(path).outbox_path == tmp_path / "consent.outbox"


def test_from_toml_puts_the_default_store_next_to_the_file(tmp_path: Path) -> None:
    config = ConsentConfig.from_toml(write(tmp_path, f'secret_key = "{SECRET}"\n'))
    assert config.store == f"sqlite:///{tmp_path / 'consentgate.db'}"


def test_from_mapping_without_relative_to_leaves_paths_alone() -> None:
    config = ConsentConfig.from_mapping({"secret_key": SECRET, "store": "sqlite:///consent.db"})
    assert config.store == "sqlite:///consent.db"


def test_the_readmes_toml_example_loads_as_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Configuration") :]
    section = section[: section.index("\n### ", 1)]
    (example,) = re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)
    monkeypatch.setenv("CONSENTGATE_SECRET_KEY", SECRET)
    config = ConsentConfig.from_toml(write(tmp_path, example))
    assert config.store == f"sqlite:///{tmp_path / 'consentgate.db'}"
    assert [p.name for p in config.providers] == [
        "google-analytics",
        "site-kit",
        "jetpack-stats",
        "buffer",
        "youtube",
        "matomo",
        "chat",
    ]
    (chat_cookie,) = config.providers[6].cookies
    assert chat_cookie.party == "third" and chat_cookie.matches("chat_42")
    assert [c.name for c in config.categories] == ["social"]
