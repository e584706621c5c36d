"""The editorial charter of a LiveEvent: tone, forbidden words, signature, lengths per network,
link and mention policies, answer templates; the one check every answer goes through, and the
audit of each explicit override. It must not publish or change questions: questions.router asks
it before an answer is stored.
"""
