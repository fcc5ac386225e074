"""The sub-commands of ``hrec-ingest`` other than ``run`` (interface.md section 2)."""
