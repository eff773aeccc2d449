"""Two grading runs on one host never share a sandbox uid (a sweep of one would kill the other)."""

from __future__ import annotations

import pytest

from autograder.sandbox import claim_uid


def test_concurrent_claims_get_distinct_uids_and_release_them(tmp_path):
    with claim_uid(range(5000, 5003), tmp_path) as a, claim_uid(range(5000, 5003), tmp_path) as b:
        assert a != b and {a, b} <= {5000, 5001, 5002}
    with claim_uid(range(5000, 5003), tmp_path) as again:
        assert again == 5000  # released on exit


def test_exhausted_range_is_a_clear_error(tmp_path):
    with claim_uid(range(7000, 7001), tmp_path), pytest.raises(RuntimeError, match="all 1 sandbox uids are in use"):
        with claim_uid(range(7000, 7001), tmp_path):
            pass
