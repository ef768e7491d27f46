"""Production static files: hashed names with a long cache lifetime, and gzip and brotli copies."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

PRODUCTION_STORAGE = "dealflow.web.staticfiles.StaticStorage"


def test_production_settings_use_hashed_compressed_files(settings):
    # Tests and DEBUG serve the sources through the finders; the production line is in settings.py.
    source = (settings.BASE_DIR / "config" / "settings.py").read_text()
    assert f'"staticfiles": {{"BACKEND": "{PRODUCTION_STORAGE}"}}' in source
    import brotli  # noqa: F401 - whitenoise writes .br files only when it can import brotli


@pytest.mark.django_db
def test_collected_files_are_served_compressed_with_a_long_lifetime(tmp_path, settings):
    source = tmp_path / "source"
    source.mkdir()
    (source / "site.js").write_text("console.log('dealflow');\n" * 400)
    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": PRODUCTION_STORAGE}}
    with override_settings(
        STATICFILES_DIRS=[str(source)],
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STATIC_ROOT=str(tmp_path / "collected"),
        STORAGES=storages,
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
    ):
        from django.contrib.staticfiles import finders
        from django.contrib.staticfiles.storage import staticfiles_storage

        finders.get_finder.cache_clear()
        try:
            call_command("collectstatic", interactive=False, verbosity=0)
            hashed = staticfiles_storage.url("site.js")
            assert hashed != "/static/site.js" and hashed.endswith(".js")
            assert (tmp_path / "collected" / (hashed.removeprefix("/static/") + ".br")).exists()
            response = Client().get(hashed, headers={"accept-encoding": "gzip, br"})
            assert response.status_code == 200
            assert response["Content-Encoding"] == "br"
            assert "immutable" in response["Cache-Control"]
            assert int(response["Content-Length"]) < 2_000
        finally:
            finders.get_finder.cache_clear()
