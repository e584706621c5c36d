"""Realtime: the per-LiveEvent Update log, the hub that fans it out, and the WebSocket channels.

Only services emit updates (realtime.service.emit), inside their transaction; the hub sends them
after commit. Nothing here decides what a change means: it only carries it.
"""
