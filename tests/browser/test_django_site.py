"""The example Django project (examples/django_site) in Chromium: a choice on a template-rendered
page, and the template tag's "Cookie settings" link in the footer opening the settings dialog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from .helpers import CHROMIUM, open_visitor, serve

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def django_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("django-site")
    with pytest.MonkeyPatch.context() as env:
        # Django's own database, should the page ever touch it, outside the repository.
        env.setenv("DJANGO_DATABASE", str(tmp / "db.sqlite3"))
        yield from serve("examples.django_site.asgi:application", tmp)


@pytest.mark.browser
def test_the_template_tags_link_opens_the_settings_dialog(
    browser: Browser, django_url: str
) -> None:
    with open_visitor(browser, django_url, javascript=True) as visitor:
        visitor.goto("/")
        page = visitor.page
        expect(page.locator("#granted")).to_have_text("Intet valg endnu")
        page.get_by_role("button", name="Accepter alle").click()
        expect(page.locator("#consentgate-banner")).to_have_count(0)

        # The footer's link is the page's only one: consentgate added none of its own.
        link = page.locator("#consentgate-settings")
        expect(link).to_have_count(1)
        expect(link).to_have_text("Cookie-indstillinger")
        assert link.evaluate("a => a.closest('footer') !== null")
        link.click()
        dialog = page.locator("#consentgate-banner")
        expect(dialog).to_have_attribute("role", "dialog")
        expect(dialog.locator('input[value="statistics"]')).to_be_checked()

        visitor.goto("/")  # and the server renders the choice into the template
        expect(page.locator("#granted")).to_have_text("Tilladt: statistics")
        assert visitor.errors == [], visitor.errors
