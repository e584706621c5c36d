"""Ingest: sources that bring posts from networks (replay now; X, Mastodon, Bluesky later).

Parsing is pure (payload in, posts out); the service stores posts once each and turns them into
pending questions. It must not moderate: what happens to a question next is questions' business.
"""
