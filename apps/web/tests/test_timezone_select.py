"""The time-zone select: the places people pick from, grouped by region, UTC first, the account's own
zone preselected; not the ~600 raw names of the tz database starting at `Factory`."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.accounts.tests.test_admin_users import USERS, admin_client

pytestmark = pytest.mark.django_db


def _options(html: str, name: str = "timezone") -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]+)"', select)


def test_sign_up_offers_the_regions_places_with_utc_first():
    html = Client().get("/accounts/signup/").content.decode()
    offered = _options(html)

    assert offered[0] == "UTC" and "Factory" not in offered and "US/Eastern" not in offered
    assert "Etc/GMT+5" not in offered and "EST5EDT" not in offered
    assert "Europe/Berlin" in offered and "America/Argentina/Buenos_Aires" in offered
    assert len(offered) < 450
    assert '<optgroup label="Europe">' in html and '<option value="Europe/Berlin">Berlin</option>' in html
    assert "Argentina / Buenos Aires" in html
    europe = re.search(r'<optgroup label="Europe">(.*?)</optgroup>', html, re.S).group(1)
    labels = re.findall(r">([^<]+)</option>", europe)
    assert labels == sorted(labels)


def test_the_admin_preselects_the_accounts_own_zone(olivia, alice):
    alice.timezone = "Asia/Tokyo"
    alice.save(update_fields=["timezone"])

    html = admin_client(olivia).get(f"{USERS}{alice.pk}/change/").content.decode()

    assert '<option value="Asia/Tokyo" selected>Tokyo</option>' in html
    assert "Factory" not in _options(html)


def test_a_zone_set_elsewhere_that_is_not_on_the_list_stays_chosen(olivia, alice):
    alice.timezone = "US/Eastern"
    alice.save(update_fields=["timezone"])

    html = admin_client(olivia).get(f"{USERS}{alice.pk}/change/").content.decode()

    assert '<option value="US/Eastern" selected>' in html
