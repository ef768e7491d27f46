"""The deals list shows the columns asked for (``col``), refuses unknown ones, and saved views keep them."""

from __future__ import annotations

import pytest

from dealflow.deals.tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def test_columns_are_chosen_kept_by_a_saved_view_and_checked(client, rep, pipeline):
    DealFactory(owner=rep, title="Acme expansion")
    client.force_login(rep)
    page = client.get("/deals/?col=title&col=stage").content.decode()
    assert 'data-sort="stage"' in page and 'data-sort="owner"' not in page
    assert 'data-column="stage"' in page and '<td class="nowrap" data-column="owner">' not in page
    saved = client.post("/deals/views/", {"name": "Stages", "query": "col=title&col=stage"})
    opened = client.get(saved["Location"])
    assert "col=stage" in opened["Location"]
    assert 'data-sort="owner"' not in client.get(opened["Location"]).content.decode()
    refused = client.get("/deals/?col=nonsense")
    assert refused.status_code == 400
    assert "There is no column &#x27;nonsense&#x27;" in refused.content.decode()


def test_a_parameter_named_lists_is_no_server_error(client, rep, pipeline):
    """Found by the parameter fuzz: the chooser once read request.GET.lists in the template."""
    client.force_login(rep)
    response = client.get("/deals/?lists=x&col=stage&q=a")
    assert response.status_code == 200
    assert '<input type="hidden" name="lists" value="x">' in response.content.decode()
