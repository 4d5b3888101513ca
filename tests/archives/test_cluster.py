"""Archives on a 3-primary Redis Cluster: an upload with its asset, the record's
life (aliases, trash, restore, purge) and a download, as on a single Redis.

The tests are the single-Redis ones, run again with the cluster backend.
"""

from __future__ import annotations

import pytest

from tests.archives.test_asset_upload import (
    test_asset_is_created_with_our_url_and_sha512,
    test_second_upload_updates_the_asset_keeping_labels_and_headers,
)
from tests.archives.test_download import (
    stored,
    test_download_serves_the_exact_bytes_with_every_header,
)
from tests.archives.test_records import (
    test_an_asset_written_before_a_trashed_records_purge_keeps_it,
    test_an_asset_written_between_gcs_look_and_its_purge_keeps_the_record,
    test_delete_in_use_is_409_force_trashes_restore_returns,
    test_every_sort_pages_through_every_record_once,
    test_list_total_selectors_and_trash,
    test_patched_alias_moves_from_its_holder,
    test_purge_and_patch_keep_the_sort_indexes,
)

__all__ = [
    "stored",
    "test_an_asset_written_before_a_trashed_records_purge_keeps_it",
    "test_an_asset_written_between_gcs_look_and_its_purge_keeps_the_record",
    "test_asset_is_created_with_our_url_and_sha512",
    "test_delete_in_use_is_409_force_trashes_restore_returns",
    "test_download_serves_the_exact_bytes_with_every_header",
    "test_every_sort_pages_through_every_record_once",
    "test_list_total_selectors_and_trash",
    "test_patched_alias_moves_from_its_holder",
    "test_purge_and_patch_keep_the_sort_indexes",
    "test_second_upload_updates_the_asset_keeping_labels_and_headers",
]


@pytest.fixture(params=[pytest.param("cluster", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    """Only the cluster: the other backends run these tests in their own modules."""
    return request.param
