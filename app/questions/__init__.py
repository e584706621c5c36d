"""Questions: what moderators handle (from a post or the audience form) and the answers to them.

It owns the lifecycle (states.py), moderation actions and the audit of every transition. It must
not talk to networks: answers leave through publishing.
"""
