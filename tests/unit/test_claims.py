"""The set of inbox paths the daemon holds, kept per tenant."""

from __future__ import annotations

from hrec_ingest.pipeline.claims import Claims


def test_a_path_is_held_per_tenant() -> None:
    claims = Claims([("demo", "a.wav"), ("other", "a.wav")])
    claims.claim(("demo", "b/c.wav"))

    assert ("demo", "a.wav") in claims
    assert ("other", "a.wav") in claims
    assert ("demo", "b/c.wav") in claims
    assert ("other", "b/c.wav") not in claims
    assert ("third", "a.wav") not in claims
    assert len(claims) == 3


def test_release_frees_only_that_tenants_path_and_tolerates_repeats() -> None:
    claims = Claims([("demo", "a.wav"), ("other", "a.wav")])

    claims.release(("demo", "a.wav"))
    claims.release(("demo", "a.wav"))
    claims.release(("unknown", "a.wav"))

    assert ("demo", "a.wav") not in claims
    assert ("other", "a.wav") in claims
    assert len(claims) == 1


def test_anything_but_a_pair_is_not_held() -> None:
    claims = Claims([("demo", "a.wav")])

    assert "a.wav" not in claims
    assert ("demo",) not in claims
