"""A bare ledger row for tests that exercise job states without a provider round trip."""

from __future__ import annotations

from preflight.submit.ledger import Ledger


def bare_job(ledger: Ledger, provider: str):  # type: ignore[no-untyped-def]
    """A job row with no files, as a create would record it; a fresh external id each call."""
    n = len(ledger.jobs()) + 1
    return ledger.add(
        provider=provider,
        base_url="http://127.0.0.1:9",
        idempotency_key="k",
        external_id=f"pf-{provider}-{n}",
        settings={},
        image=None,
        video=None,
        image_sha256=None,
        video_sha256=None,
        duration=None,
        cost_estimate=None,
    )
