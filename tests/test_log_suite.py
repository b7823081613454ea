"""The public store suite (consentgate.log.testing), run against both stores."""

from __future__ import annotations

import pytest

from consentgate.log.testing import LogFactory, StoreSuite
from tests.stores import Store


class TestStores(StoreSuite):
    @pytest.fixture
    def open_log(self, store: Store) -> LogFactory:
        return store.open


class TestKeyedStores(StoreSuite):
    @pytest.fixture
    def open_log(self, store: Store) -> LogFactory:
        return lambda: store.open(chain_key="chain-key-that-is-long-enough-0123456789")
