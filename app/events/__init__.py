"""LiveEvents: the scheduled show (hashtags, accounts, stream URL, times) and its state.

It owns the LiveEvent row and its lifecycle; questions and ingest hang off it and live elsewhere.
"""
