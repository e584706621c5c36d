"""X API access through tweepy: client factories pointed at the configured base URL, and the
credentials that go with them. Sources (ingest) and targets (publishing) build on it.

It must not decide what to read or post: only how to reach X, signed and without leaking secrets.
"""
