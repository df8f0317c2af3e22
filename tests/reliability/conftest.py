"""The reliability tests record their cases and outcomes (``make_report.Recorder``) so that
``test_reliability_doc.py`` can compare docs/reliability.md with the session it runs in."""

from __future__ import annotations

import pytest
from make_report import Recorder

PLUGIN = "sciml_reliability_recorder"


def pytest_configure(config):
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.register(Recorder(), PLUGIN)


@pytest.fixture()
def reliability_recorder(request) -> Recorder:
    """The Recorder of this session (every reliability test collected so far and its outcome)."""
    return request.config.pluginmanager.get_plugin(PLUGIN)
