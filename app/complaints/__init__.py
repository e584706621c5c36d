"""The complaints desk: a case per complaint (status, assignee, SLA, notes, follow-ups), the
desk's settings per LiveEvent, and its CSV export for customer service.

It never puts a complaint on the stage by itself: only "move to stage" does, and the
questions service refuses any other way (questions.service.keep_complaints_off_stage).
"""
