"""The question lifecycle as an explicit state machine.

pending → approved → on_air → answered; pending or approved → rejected; any but merged →
archived; pending or approved → merged (a duplicate absorbed by another question, whose answer
serves its asker too) and back by unmerge (see service.merge). Undo reverts the last transition
(see service.undo). Everything else is illegal, and says why.
"""

import enum


class Status(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    on_air = "on_air"
    answered = "answered"
    rejected = "rejected"
    archived = "archived"
    # Absorbed into another question (merged_into_id): out of every queue, its asker kept.
    merged = "merged"


class Action(enum.StrEnum):
    approve = "approve"
    reject = "reject"
    on_air = "on_air"
    answer = "answer"
    # Answered out loud on the stream, with no written answer to publish.
    mark_answered = "mark_answered"
    archive = "archive"
    # Sending a question on air returns the one on air before it to the queue.
    requeue = "requeue"
    undo = "undo"
    # Merge and unmerge move the absorbed question, never the one absorbing it; their
    # target and origin depend on the other question (service.merge, service.unmerge).
    merge = "merge"
    unmerge = "unmerge"


# action → (states it may start from, state it leads to). Undo is not here: its target is
# whatever the reverted transition started from. Nor are merge and unmerge (see Action).
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.approve: (frozenset({Status.pending}), Status.approved),
    Action.reject: (frozenset({Status.pending, Status.approved}), Status.rejected),
    Action.on_air: (frozenset({Status.approved}), Status.on_air),
    Action.answer: (frozenset({Status.approved, Status.on_air}), Status.answered),
    Action.mark_answered: (frozenset({Status.approved, Status.on_air}), Status.answered),
    # A merged question goes with its group: archive the question that absorbed it, or unmerge.
    Action.archive: (frozenset(set(Status) - {Status.archived, Status.merged}), Status.archived),
    Action.requeue: (frozenset({Status.on_air}), Status.approved),
}

# What a question may be to be absorbed by another: not yet on screen or answered. One on air is
# being read out (merge the others into it instead); an answered one has had its own answer.
MERGEABLE = frozenset({Status.pending, Status.approved})
# What a question may be to absorb others: before its answer, whose replies are planned for the
# askers it has then (an answered one refuses: its replies went out without the newcomers).
ABSORBING = frozenset({Status.pending, Status.approved, Status.on_air})


class IllegalTransition(Exception):
    def __init__(self, action: Action, current: Status) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[action][0])) if action in TRANSITIONS else ""
        super().__init__(
            f"cannot {action.value.replace('_', ' ')} a question that is {current.value}"
            + (f" (only from: {allowed})" if allowed else "")
        )
        self.action = action
        self.current = current


def next_status(action: Action, current: Status) -> Status:
    """The state ``action`` leads to from ``current``, or IllegalTransition."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise IllegalTransition(action, current)
    return target


# Which channels may see a question in each state. The public channel never sees a pending or
# rejected question: that is the promise made to the brand.
PRESENTER_VISIBLE = frozenset({Status.approved, Status.on_air, Status.answered})
PUBLIC_VISIBLE = frozenset({Status.on_air, Status.answered})
