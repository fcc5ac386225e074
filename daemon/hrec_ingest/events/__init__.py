"""Events of the daemon: the journal-backed outbox, the webhook sender and the daily manifest.

Kept free of imports on purpose: the journal imports :mod:`hrec_ingest.events.outbox`,
so importing the other modules here would make a cycle.
"""
