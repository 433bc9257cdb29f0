"""Checks docs/openapi.yaml, and what keymeter really answered against it.

    openapi_check.py SPEC [RECORDING.ndjson ...]

First SPEC must be a valid OpenAPI 3.1 description (openapi-spec-validator). Then every exchange
the API tests recorded (tests/api/openapi_recorder.h: one JSON object a line, {"method",
"target", "status", "content_type", "headers": [[name, value]...], "request_body",
"response_body"}) is validated against it with openapi-core: the status must be declared for the
operation, the content type too, a JSON body must match its schema and the declared headers
theirs. Non-JSON bodies (the console's files, /metrics, the CSV/NDJSON export, this YAML) are
checked for status, content type and headers only: the recorder keeps just their start.

A path the spec lacks (or a method it lacks on a known path) is an error unless the server
answered it 404 or 405: tests probe routes that do not exist.

Prints each failure with method, target, status and the validator's message; exits 1 on any.
Runs with the venv's Python of scripts/deps (openapi-spec-validator, openapi-core, PyYAML).
"""

import json
import sys
from urllib.parse import parse_qsl

import yaml
from jsonschema_path import SchemaPath
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest
from openapi_core.testing import MockResponse
from openapi_core.validation.response.validators import V31ResponseHeadersValidator
from openapi_spec_validator import validate as validate_spec

# The servers entry the spec names; paths are matched under it.
HOST = "http://127.0.0.1:8080"
# Statuses the router answers on its own for a path or method no route has.
UNROUTED = {404, 405}


def media_type(content_type):
    return content_type.split(";")[0].strip().lower()


def declared_response(operation, status):
    """The response object `operation` declares for `status` (or its range, or default)."""
    responses = operation["responses"]
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return responses[key]
    return None


def resolve(spec, node):
    """`node` with a local $ref followed (responses are often references)."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


class Checker:
    def __init__(self, spec_path):
        with open(spec_path, encoding="utf-8") as f:
            self.spec = yaml.safe_load(f)
        validate_spec(self.spec)  # raises on an invalid description
        self.api = OpenAPI.from_dict(self.spec)
        self.finder = APICallPathFinder(self.api.spec)
        self.headers_validator = V31ResponseHeadersValidator(self.api.spec)
        self.checked = 0
        self.bodies = 0
        self.unrouted = 0
        self.failures = []

    def fail(self, x, message):
        self.failures.append(f"{x['method']} {x['target']} -> {x['status']}: {message}")

    def check(self, x):
        self.checked += 1
        method, status = x["method"].lower(), int(x["status"])
        path, _, query = x["target"].partition("?")
        try:
            found = self.finder.find(method, HOST + path)
        except (PathNotFound, OperationNotFound) as e:
            if status in UNROUTED:
                self.unrouted += 1
            else:
                self.fail(x, f"not in the spec ({type(e).__name__}) yet answered {status}")
            return
        headers = {}
        for name, value in x["headers"]:
            headers.setdefault(name, value)  # werkzeug's Headers: the first of each name
        content_type = x["content_type"]
        body = x["response_body"].encode("utf-8")
        request = MockRequest(HOST, method, path, args=dict(parse_qsl(query)),
                              data=x["request_body"].encode("utf-8"))
        response = MockResponse(body, status_code=status, headers=headers,
                                content_type=content_type)
        declared = resolve(self.spec, declared_response(resolve(self.spec, found.operation), status))
        if declared is None:
            self.fail(x, f"status {status} is not declared for this operation")
            return
        content = declared.get("content")
        if not body or content is None or media_type(content_type) != "application/json":
            # Status, content type and headers only.
            if body and content is None:
                self.fail(x, f"a body ({content_type}) where the spec declares none")
            elif body and media_type(content_type) not in content:
                self.fail(x, f"content type {content_type} is not declared "
                             f"(declared: {', '.join(content)})")
            errors = list(self.headers_validator.iter_errors(request, response))
        else:
            self.bodies += 1
            errors = list(self.api.iter_response_errors(request, response))
        for e in errors:
            self.fail(x, describe(e))


def describe(error):
    """The validator's message: the schema errors when there are some (openapi-core wraps them
    in errors whose text repeats the whole value), else each error of the chain."""
    chain = [error]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    for e in chain:
        inner = getattr(e, "schema_errors", None)
        if inner:
            return f"{type(error).__name__}: " + "; ".join(
                f"at /{'/'.join(str(p) for p in s.absolute_path)}: {clip(s.message)}"
                for s in inner)
    return "; ".join(f"{type(e).__name__}: {clip(str(e))}" for e in chain)


def clip(text, limit=300):
    return text if len(text) <= limit else text[:limit] + "…"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        checker = Checker(argv[1])
    except Exception as e:  # an invalid spec, or one that does not load
        print(f"openapi_check: {argv[1]} is not a valid OpenAPI 3.1 description: "
              f"{type(e).__name__}: {e}")
        return 1
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    exchange = json.loads(line)
                except json.JSONDecodeError as e:
                    checker.failures.append(f"{path}:{number}: not a recorded exchange: {e}")
                    continue
                checker.check(exchange)
    for failure in checker.failures:
        print(f"openapi_check: {failure}")
    print(f"openapi_check: {argv[1]} is valid OpenAPI 3.1; {checker.checked} exchanges checked "
          f"({checker.bodies} JSON bodies validated, {checker.unrouted} unrouted 404/405), "
          f"{len(checker.failures)} failures")
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
