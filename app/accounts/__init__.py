"""Accounts: users and their roles, password hashing, web sessions and API tokens.

It authenticates and authorises; it must not know about questions or LiveEvents beyond a role.
"""
