"""Client for the AudioCodes Meeting Insights On-Prem offline transcription API."""
