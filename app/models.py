"""Every domain's models in one import, so Alembic's autogenerate sees the whole schema."""

from app.accounts.models import ApiToken, User, WebSession
from app.charter.models import Charter, CharterOverride
from app.complaints.models import CaseChange, ComplaintCase, DeskSettings
from app.db import Base
from app.events.models import LiveEvent, TeamMember
from app.ingest.models import IngestSource, Post
from app.ops.models import Lease
from app.publishing.models import Attempt, Delivery
from app.questions.models import Answer, Question, Transition
from app.realtime.models import Update
from app.triage.models import TriageCorrection, TriageRules

__all__ = [
    "Answer",
    "ApiToken",
    "Attempt",
    "Base",
    "CaseChange",
    "Charter",
    "CharterOverride",
    "ComplaintCase",
    "Delivery",
    "DeskSettings",
    "IngestSource",
    "Lease",
    "LiveEvent",
    "Post",
    "Question",
    "TeamMember",
    "Transition",
    "TriageCorrection",
    "TriageRules",
    "Update",
    "User",
    "WebSession",
]
