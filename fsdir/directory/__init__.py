"""The directory model and its rules."""
