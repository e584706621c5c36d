"""The sandbox X API: a small fake of the X API v2 subset Tribune uses (filtered stream, rules,
recent search, posting, users/me), with OAuth, rate limits and injectable faults, for tests and
operator rehearsals. It must not call X or any network, and it never echoes a credential.
"""
