"""moto on one port, single-threaded (the threaded server loses requests), with two things
real Athena does that moto 5.2 does not, so the Athena client is tested against them:

- GetQueryResults pages: at most MaxResults rows (default and maximum 1000) per call, and a
  NextToken while rows remain.
- A query can fail: `POST /_eventlake/athena/failures` with `{"reasons": ["..."]}` makes each
  next started query end FAILED with that StateChangeReason, in order.

Everything else is moto's own (queued results through `/moto-api/static/athena/query-results`,
state transitions through `/moto-api/state-manager/set-transition`, StopQueryExecution).
"""

import json
import sys

from moto.athena.models import AthenaBackend
from moto.athena.responses import AthenaResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

FAILURES = []  # reasons for the next started queries
REASONS = {}  # query execution id -> reason it failed

start_query_execution = AthenaBackend.start_query_execution


def start_failing(self, *args, **kwargs):
    exec_id = start_query_execution(self, *args, **kwargs)
    if FAILURES:
        REASONS[exec_id] = FAILURES.pop(0)
        self.executions[exec_id].status = "FAILED"
    return exec_id


get_query_execution = AthenaResponse.get_query_execution


def get_with_reason(self):
    answer = json.loads(get_query_execution(self))
    execution = answer["QueryExecution"]
    reason = REASONS.get(execution["QueryExecutionId"])
    if reason is not None:
        execution["Status"]["StateChangeReason"] = reason
    return json.dumps(answer)


def get_results_paged(self):
    exec_id = self._get_param("QueryExecutionId")
    answer = self.athena_backend.get_query_results(exec_id).to_dict()
    rows = answer["ResultSet"]["Rows"]
    size = min(int(self._get_param("MaxResults") or 1000), 1000)
    start = int(self._get_param("NextToken") or 0)
    answer["ResultSet"]["Rows"] = rows[start : start + size]
    if start + size < len(rows):
        answer["NextToken"] = str(start + size)
    return json.dumps(answer)


AthenaBackend.start_query_execution = start_failing
AthenaResponse.get_query_execution = get_with_reason
AthenaResponse.get_query_results = get_results_paged

moto = DomainDispatcherApplication(create_backend_app)


def app(environ, start_response):
    if environ["PATH_INFO"] == "/_eventlake/athena/failures":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        FAILURES.extend(json.loads(environ["wsgi.input"].read(length))["reasons"])
        start_response("201 Created", [("Content-Length", "0")])
        return [b""]
    return moto(environ, start_response)


run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False)
