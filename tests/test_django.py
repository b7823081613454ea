"""Django under ASGI: consentgate.contrib.django and the example project (examples/django_site),
with Django's own test client, in process through the ASGI application, and under uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

django = pytest.importorskip("django")

from consentgate import SCOPE_KEY, ConfigurationError, ConsentMiddleware  # noqa: E402
from consentgate._state import ConsentState, CookieReading, LazyConsent  # noqa: E402
from tests.helpers import SECRET, choose, make_config  # noqa: E402
from tests.servers import ROOT, Lifespan, choose_over_http, uvicorn  # noqa: E402

SETTINGS = "examples.django_site.settings"
ADMIN_PASSWORD = "a-long-test-password-0123456789"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The example project's settings, set up once, on a migrated database of its own."""
    tmp = tmp_path_factory.mktemp("django")
    env = {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DJANGO_DATABASE": str(tmp / "db.sqlite3"),
        "CONSENTGATE_STORE": f"sqlite:///{tmp / 'consent.db'}",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test.utils import setup_test_environment, teardown_test_environment

    call_command("migrate", verbosity=0)
    User.objects.create_superuser("admin", "admin@example.dk", ADMIN_PASSWORD)
    setup_test_environment()  # so that the test client records the templates' context
    yield env
    teardown_test_environment()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def application(project: dict[str, str]) -> ConsentMiddleware:
    from examples.django_site.asgi import application

    return application


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


# -- through the ASGI application, in process ---------------------------------------


@pytest.mark.anyio
async def test_a_page_gets_the_banner_then_the_choice_reaches_view_and_template(
    application: ConsentMiddleware,
) -> None:
    async with asgi_client(application) as client:
        first = (await client.get("/")).text
        assert "consentgate-banner" in first and "Intet valg endnu" in first
        assert (await choose(client, "accept_all", next_path="/")).status_code == 303
        after = (await client.get("/")).text
    assert "consentgate-banner" not in after
    assert "Tilladt: statistics" in after
    assert "gtag/js" in after
    # The template tag's link, in Danish, with the id the script opens the dialog from.
    assert (
        '<a id="consentgate-settings" href="/_consent/preferences?lang=da&amp;next=%2F" lang="da"'
        in after
    )
    assert 'class="footer-link">Cookie-indstillinger</a>' in after


@pytest.mark.anyio
async def test_the_admin_works_and_gets_no_banner(application: ConsentMiddleware) -> None:
    async with asgi_client(application) as client:
        login = await client.get("/admin/login/")
        assert login.status_code == 200 and "consentgate-banner" not in login.text
        token = client.cookies["csrftoken"]
        answer = await client.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            },
            headers={"referer": "http://testserver/admin/login/"},
        )
        assert answer.status_code == 302, answer.text
        index = await client.get("/admin/")
    assert index.status_code == 200 and "consentgate-banner" not in index.text
    assert "/admin/auth/user/" in index.text


@pytest.mark.anyio
async def test_the_lifespan_opens_the_log_though_django_refuses_it(
    application: ConsentMiddleware,
) -> None:
    server = Lifespan(application)
    assert await server.startup() == {"type": "lifespan.startup.complete"}
    # Not shut down: the module's other tests share this application and its log.


# -- with Django's own test client ------------------------------------------------------


def test_the_test_client_renders_the_page_as_no_choice(project: dict[str, str]) -> None:
    from django.test import Client

    response = Client().get("/")
    assert response.status_code == 200
    assert response.context["consent"].has_choice is False
    assert b"Intet valg endnu" in response.content
    # No ConsentMiddleware around Django's test client: no link to a preference centre.
    assert b"consentgate-settings" not in response.content


def test_the_async_test_client_too(project: dict[str, str]) -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    response = async_to_sync(AsyncClient().get)("/")
    assert response.status_code == 200
    assert response.context["consent"].has_choice is False


class Published(LazyConsent):
    def __init__(self, state: ConsentState) -> None:
        self._reading = CookieReading(state)

    @property
    def reading(self) -> CookieReading:
        return self._reading


def test_get_consent_reads_an_asgi_request(project: dict[str, str]) -> None:
    from django.test import AsyncRequestFactory

    from consentgate import get_consent
    from consentgate.contrib.django.context_processors import consent
    from consentgate.contrib.django.middleware import ConsentStateMiddleware

    request = AsyncRequestFactory().get("/")
    assert get_consent(request).has_choice is False
    chosen = ConsentState(consent_id="abc", granted=frozenset({"marketing"}))
    scope = request.scope
    assert isinstance(scope, dict)
    scope[SCOPE_KEY] = Published(chosen)
    assert get_consent(request) is chosen
    ConsentStateMiddleware(lambda r: r)(request)
    assert getattr(request, "consent", None) is chosen
    assert consent(request) == {"consent": chosen}


def test_the_middleware_in_an_async_chain(project: dict[str, str]) -> None:
    from asgiref.sync import async_to_sync, iscoroutinefunction
    from django.test import AsyncRequestFactory

    from consentgate.contrib.django.middleware import ConsentStateMiddleware

    async def view(request: Any) -> Any:
        return request.consent

    middleware = ConsentStateMiddleware(view)
    assert iscoroutinefunction(middleware)
    assert async_to_sync(middleware)(AsyncRequestFactory().get("/")).has_choice is False


# -- settings ------------------------------------------------------------------------


def test_settings_dict_with_paths_from_base_dir_and_keys_from_django(
    project: dict[str, str], tmp_path: Path
) -> None:
    from django.test import override_settings

    from consentgate.contrib.django import config_from_settings

    settings = {"store": "sqlite:///consent.db", "policy_version": "9"}
    with override_settings(
        CONSENTGATE=settings,
        BASE_DIR=tmp_path,
        SECRET_KEY="a" * 50,
        SECRET_KEY_FALLBACKS=["b" * 50],
    ):
        config = config_from_settings()
    assert config.store == f"sqlite:///{tmp_path / 'consent.db'}"
    assert config.policy_version == "9"
    signing = config.signing_keys
    assert len(signing) == 2 and "a" * 50 not in signing and len(set(signing)) == 2


def test_settings_with_a_secret_of_their_own_keep_it(project: dict[str, str]) -> None:
    from django.test import override_settings

    from consentgate.contrib.django import config_from_settings

    with override_settings(CONSENTGATE={"secret_key": SECRET, "store": "sqlite:///:memory:"}):
        assert config_from_settings().signing_keys == (SECRET,)


def test_settings_naming_a_toml_file(project: dict[str, str], tmp_path: Path) -> None:
    from django.test import override_settings

    from consentgate.contrib.django import config_from_settings

    toml = tmp_path / "consentgate.toml"
    toml.write_text(
        'policy_version = "7"\nstore = "sqlite:///log.db"\n[[providers]]\ntype = "buffer"\n',
        encoding="utf-8",
    )
    with override_settings(CONSENTGATE=str(toml)):
        config = config_from_settings()
    assert config.policy_version == "7"
    assert config.store == f"sqlite:///{tmp_path / 'log.db'}"
    assert [p.name for p in config.providers] == ["buffer"]


def test_missing_settings_are_named(project: dict[str, str]) -> None:
    from django.test import override_settings

    from consentgate.contrib.django import config_from_settings

    with override_settings(CONSENTGATE=None), pytest.raises(ConfigurationError) as caught:
        config_from_settings()
    assert caught.value.field == "CONSENTGATE"


# -- under uvicorn ------------------------------------------------------------------


@pytest.mark.slow
def test_the_example_project_under_uvicorn(tmp_path: Path) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DJANGO_DATABASE": str(tmp_path / "db.sqlite3"),
        "CONSENTGATE_STORE": f"sqlite:///{tmp_path / 'consent.db'}",
    }
    manage = [sys.executable, str(ROOT / "examples" / "django_site" / "manage.py"), "migrate"]
    subprocess.run(manage, env={**os.environ, **env}, check=True, capture_output=True)
    with uvicorn("examples.django_site.asgi:application", tmp_path, env=env) as base:
        assert (tmp_path / "consent.db").exists()  # opened at start-up, before any choice
        with httpx.Client(base_url=base, timeout=10) as client:
            answer = choose_over_http(client, "/", "accept_all")
            assert answer.status_code == 303 and answer.headers["location"] == "/"
            page = client.get("/").text
            login = client.get("/admin/login/")
            stylesheet = client.get("/static/admin/css/base.css")
    assert "Tilladt: statistics" in page and "gtag/js" in page
    assert login.status_code == 200 and "consentgate-banner" not in login.text
    assert stylesheet.status_code == 200


def test_the_tag_leaves_the_id_to_consentgates_own_link_when_that_is_shown(
    project: dict[str, str],
) -> None:
    from django.template import Context, Template
    from django.test import AsyncRequestFactory
    from starlette.applications import Starlette

    middleware = ConsentMiddleware(Starlette(), config=make_config(show_settings_link=True))
    request = AsyncRequestFactory().get("/page?x=1", headers={"accept-language": "en"})
    scope = request.scope
    assert isinstance(scope, dict)
    scope[SCOPE_KEY] = SimpleNamespace(mw=middleware)  # what the middleware's gate carries
    template = Template('{% load consentgate %}{% consent_settings_link css_class="x" %}')
    html = template.render(Context({"request": request}))
    assert html == (
        '<a href="/_consent/preferences?lang=en&amp;next=%2Fpage%3Fx%3D1" lang="en" class="x">'
        "Cookie settings</a>"
    )


@pytest.mark.parametrize(
    ("language_from", "expected"),
    [("html-lang", "de"), ("accept-language", "en"), (lambda scope: "fi", "fi")],
)
def test_the_tag_speaks_the_language_consentgate_shows_the_page_in(
    project: dict[str, str], language_from: object, expected: str
) -> None:
    from django.template import Context, Template
    from django.test import AsyncRequestFactory
    from starlette.applications import Starlette

    config = make_config(language_from=language_from)
    middleware = ConsentMiddleware(Starlette(), config=config)
    request = AsyncRequestFactory().get("/", headers={"accept-language": "en"})
    request.scope[SCOPE_KEY] = SimpleNamespace(mw=middleware)  # type: ignore[index]
    template = Template("{% load consentgate %}{% consent_settings_link %}")
    # With "html-lang", Django's own language is the page's (its i18n context processor).
    html = template.render(Context({"request": request, "LANGUAGE_CODE": "de-at"}))
    assert f'?lang={expected}&amp;next=%2F" lang="{expected}"' in html
