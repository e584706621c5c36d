"""Publishing: how an answer leaves Tribune, one attempt-tracked Delivery per target.

Today the only target is the Tribune page itself; network targets (X first) come through an
outbox worker. It must not change a question's status: questions does that.
"""
