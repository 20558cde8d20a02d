"""schemathesis over the whole OpenAPI schema, authenticated (an analyst's token and the
operator's) and anonymous: no 5xx, and every answer conforms to the schema (status code, content
type, headers and body). Examples per operation are bounded so the run takes a minute or two."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from paxsilica.server.testing import db_url, make_service  # noqa: F401

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 8
SLOW = {"/api/v1/briefing", "/api/v1/briefing.html", "/api/v1/lanes", "/api/v1/lanes/exposure"}


def _fuzz(op, headers: dict[str, str], examples: int) -> None:  # type: ignore[no-untyped-def]
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy())
    def run(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.slow
def test_schemathesis(db_url: str, tmp_path) -> None:  # noqa: F811
    # runs are queued, never executed, here: fuzzing would otherwise start hundreds of simulations
    with make_service(db_url, tmp_path, start_workers=False) as svc:
        callers = {"anonymous": {}, "analyst": svc.login("a_analyst"), "operator": svc.login("operator")}
        schema = schemathesis.openapi.from_asgi("/openapi.json", svc.app)
        n = 0
        for result in schema.get_all_operations():
            op = result.ok()
            for who, headers in callers.items():
                if op.path in ("/api/v1/auth/login",) and who != "anonymous":
                    continue
                # the lanes and briefing computations are slow on a cold cache: fewer examples
                _fuzz(op, headers, 2 if op.path in SLOW else EXAMPLES)
                n += 1
        assert n >= 3 * 30
