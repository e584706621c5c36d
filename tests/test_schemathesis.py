"""Schemathesis over /openapi.json: generated requests for every operation, against the real
server. No response may be a 5xx, and every one must be what the document promises: a
documented status, content type, headers and body."""

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Actor, LiveServer, ask

# The acceptance bar: this many generated requests at least, across all operations.
MIN_CASES = 1000
# Per operation and generation mode. Operations with little to vary (GET /api/v1/csrf) run out
# of distinct inputs well before this, so the sum over all operations is set to clear MIN_CASES.
MAX_EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 20}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # Negative cases only: what the document calls invalid must be refused with a 4xx.
    negative_data_rejection,
]
# Invalid data must be refused with a 4xx: schemathesis's list, plus 413. A text over its
# maxLength in 4-byte characters (12 bytes each as JSON escapes) can outgrow the body cap before
# validation sees it, and a 413 refuses it just as well.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422"),
                    *("428", "429", "5xx"),
                ]
            }
        }
    }
)
# Generated path parameters almost never name something that exists, so most requests would
# stop at a 404. Four times in five a parameter is replaced by a real one: the handlers run.
PIN_WEIGHTS = (True, True, True, True, False)
# Who sends each request: mostly the admin, who may do everything, so the handlers run; the
# others meet the role and login checks.
IDENTITY_WEIGHTS = ("admin", "admin", "admin", "spokesperson", "anonymous")


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    # One entry per operation and kind of failure: the first report that showed it.
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    failing_cases: int = 0
    no_negative: list[str] = field(default_factory=list)


def fuzz(base_url: str, identities: dict[str, dict[str, str]], real: dict[str, list[Any]]) -> Tally:
    """Runs every operation of the document with positive and negative data; blocking (requests
    under the hood), so the async test runs it in a thread."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG)
    tally = Tally()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is broken
        operation = result.ok()
        pinnable = {
            name: values for name, values in real.items() if name in operation.path_parameters
        }
        for mode, max_examples in MAX_EXAMPLES.items():
            if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
                continue  # nothing to make invalid

            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,  # the same cases on every run: CI is deterministic
                database=None,  # no .hypothesis/ examples database in the working tree
                suppress_health_check=[
                    HealthCheck.too_slow,
                    HealthCheck.filter_too_much,
                    HealthCheck.data_too_large,
                ],
                report_multiple_bugs=False,
            )
            @given(
                case=operation.as_strategy(generation_mode=mode),
                pins=st.fixed_dictionaries(
                    {name: st.sampled_from(values) for name, values in pinnable.items()}
                ),
                pin=st.sampled_from(PIN_WEIGHTS),
                identity=st.sampled_from(IDENTITY_WEIGHTS),
            )
            def run(case: Case[Any], pins: dict[str, Any], pin: bool, identity: str) -> None:
                if pin and pins:
                    case.path_parameters = {**case.path_parameters, **pins}
                tally.cases[case.operation.label] += 1
                headers = identities[identity]
                response = case.call(base_url=base_url, headers=headers, timeout=10)
                tally.statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as group:
                    # Recorded rather than raised: one run lists every problem, not the first.
                    tally.failing_cases += 1
                    titles = ", ".join(sorted({failure.title for failure in group.exceptions}))
                    key = (case.operation.label, titles)
                    tally.failures.setdefault(key, f"as {identity}: {group.message}")

            try:
                run()
            except Unsatisfiable:
                # Every parameter accepts any value of its type (a path segment is any
                # string): there is no invalid request to make.
                if mode is not GenerationMode.NEGATIVE:
                    raise
                tally.no_negative.append(operation.label)
    return tally


def _has_inputs(operation: APIOperation[Any, Any, Any, Any]) -> bool:
    return any(
        len(location)
        for location in (operation.path_parameters, operation.query, operation.headers)
    ) or bool(len(operation.body))


async def test_openapi_fuzzing(
    live_server: LiveServer,
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    admin: Actor,
    spokesperson: Actor,
) -> None:
    questions = [await ask(http, f"Generated question {n}?") for n in range(12)]
    ids = [q["id"] for q in questions]
    # A few in each state the actions start from, so the state machine is reached from each.
    for question_id, action in zip(ids, ["approve"] * 4 + ["reject"] * 2, strict=False):
        response = await http.post(
            f"/api/v1/questions/{question_id}/{action}", headers=admin.headers
        )
        assert response.status_code == 200, response.text
    csrf = {"X-CSRF-Token": http.headers["X-CSRF-Token"]}
    identities = {
        "admin": {**admin.headers, **csrf},
        "spokesperson": {**spokesperson.headers, **csrf},
        "anonymous": csrf,
    }
    real = {
        "slug": [live_event["slug"]],
        "question_id": ids,
        "username": [admin.username, spokesperson.username],
    }

    tally = await asyncio.to_thread(fuzz, live_server.url, identities, real)

    total = sum(tally.cases.values())
    width = max(map(len, tally.cases))
    summary = [
        f"schemathesis: {total} cases over {len(tally.cases)} operations",
        *(f"  {label:<{width}}  {count}" for label, count in sorted(tally.cases.items())),
        f"  no invalid request to make: {', '.join(tally.no_negative) or 'none'}",
        f"  statuses: {dict(sorted(tally.statuses.items()))}",
        f"  failing cases: {tally.failing_cases}, distinct failures: {len(tally.failures)}",
    ]
    print("\n" + "\n".join(summary))  # noqa: T201 - the figures, shown with pytest -s
    reports = [f"--- {label}: {kind}\n{report}" for (label, kind), report in tally.failures.items()]
    assert total >= MIN_CASES
    assert not tally.failures, "\n".join(reports)
