"""hrec-ingest: a drop folder in, transcripts out (AudioCodes Meeting Insights On-Prem)."""

__version__ = "0.1.0"
