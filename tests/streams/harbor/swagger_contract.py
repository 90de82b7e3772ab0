"""Harbor's own API spec (api/v2.0/swagger.yaml of the release) as a checker of HTTP exchanges.

Who uses it: tests/streams/harbor/test_swagger_contract.py wraps the in-memory Harbor of
tests/streams/reconcile/conftest.py with `ContractRecorder`, so every request hopsharbor's
HarborClient sends is checked against the operation it names in the real spec, and every answer
of the in-memory Harbor against that operation's declared response. A mismatch is data
(`Mismatch`), never an exception: the tests decide what fails.

The spec comes from the Go module `github.com/goharbor/harbor@<HARBOR_VERSION>+incompatible` (the
repository root, which the Go module proxy serves although it refuses `.../harbor/src`), read from
the Go module cache that deploy/local/harbor/build.sh fills; `load_spec_path()` downloads it with
`go mod download` when it is not there yet, and raises `SpecUnavailable` with the reason when it
cannot (the tests turn that into a skip). The spec is never copied into the repository.

What is checked, per request: the route exists (method + path template under basePath); path
parameters of type integer are integers; every query parameter is declared, with its type,
enum, minimum/maximum; required query parameters and headers are present; `X-...` headers the
operation does not declare (Harbor ignores them) are reported; a name in `{project_name_or_id}`
is sent with `X-Is-Resource-Name: true` (otherwise Harbor reads an all-digit name as an id); the
JSON body validates against the body parameter's schema. Per response: the status is declared
(an undeclared error status is only noted: Harbor's error middleware answers 404 etc. on
operations whose spec leaves them out; its body must still be Harbor's `Errors`), the JSON body
validates against the declared schema, an operation declaring no schema answers no body, and
integer headers (X-Total-Count) are integers.

Schemas are converted from Swagger 2.0 to JSON Schema draft 4 (`x-nullable` -> null allowed).
Objects are closed (`additionalProperties: false` where the spec lists properties and says
nothing else): go-swagger's generated models drop unknown JSON fields without a word, so a
misspelt field in a request is silently ignored by the real Harbor, and a field the in-memory
Harbor invents is one the real Harbor never sends.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import jsonschema
import yaml

__all__ = [
    "SpecUnavailable",
    "load_spec_path",
    "HarborSpec",
    "Operation",
    "Mismatch",
    "Exchange",
    "ContractRecorder",
]

REPO = Path(__file__).resolve().parents[3]
MODULE = "github.com/goharbor/harbor"
SPEC_IN_MODULE = Path("api/v2.0/swagger.yaml")
GO_TIMEOUT = 600.0  # seconds; a cold download of the repository root is ~7 MB


class SpecUnavailable(RuntimeError):
    """The spec could not be obtained here (no Go toolchain, or the module proxy said no)."""


# -- obtaining the spec ---------------------------------------------------------------------------


def harbor_version() -> str:
    """HARBOR_VERSION of deploy/local/stack.env (the environment overrides it, as in the stack)."""
    if os.environ.get("HARBOR_VERSION"):
        return os.environ["HARBOR_VERSION"]
    for line in (REPO / "deploy/local/stack.env").read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key == "HARBOR_VERSION" and value:
            return value.strip().strip('"')
    raise SpecUnavailable("HARBOR_VERSION is not set in deploy/local/stack.env")


def go_mod_cache() -> Path:
    """The Go module cache of deploy/local/harbor/build.sh: $HOPSHARBOR_CACHE_DIR/harbor/gomod."""
    cache_dir = Path(os.environ.get("HOPSHARBOR_CACHE_DIR") or Path.home() / ".cache/hopsharbor")
    return cache_dir / "harbor" / "gomod"


def _go_binary() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    return "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None


def _scrub(text: str) -> str:
    """Leave registry addresses out of messages (they end up in test reports)."""
    return re.sub(r"https?://[^/\s]+/", "<module proxy>/", text).strip()


def load_spec_path(version: str | None = None) -> Path:
    """Path of swagger.yaml for Harbor `version`, downloading the module root once if needed.

    Reuses the module cache build.sh fills, so nothing is downloaded twice. Raises
    SpecUnavailable with the exact reason (no `go`, the proxy's error) when it cannot.
    """
    version = version or harbor_version()
    gomodcache = go_mod_cache()
    module_version = f"{version}+incompatible"
    cached = gomodcache / f"{MODULE}@{module_version}" / SPEC_IN_MODULE
    if cached.is_file():
        return cached
    go = _go_binary()
    if go is None:
        raise SpecUnavailable(
            f"Harbor's API spec {MODULE}@{module_version}/{SPEC_IN_MODULE} is not in {gomodcache} "
            "and there is no `go` command to download it (PATH, /usr/local/go/bin/go)"
        )
    gomodcache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOMODCACHE=str(gomodcache), GOTOOLCHAIN="local", GOFLAGS="-mod=mod")
    try:
        done = subprocess.run(
            [go, "mod", "download", "-json", f"{MODULE}@{module_version}"],
            cwd=gomodcache,  # outside any module
            env=env,
            capture_output=True,
            text=True,
            timeout=GO_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpecUnavailable(f"`go mod download {MODULE}@{module_version}` failed: {exc}") from None
    try:
        answer = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        answer = {}
    if done.returncode != 0 or answer.get("Error") or not answer.get("Dir"):
        reason = answer.get("Error") or done.stderr or f"exit status {done.returncode}"
        raise SpecUnavailable(f"`go mod download {MODULE}@{module_version}` failed: {_scrub(str(reason))}")
    spec = Path(answer["Dir"]) / SPEC_IN_MODULE
    if not spec.is_file():
        raise SpecUnavailable(f"{MODULE}@{module_version} has no {SPEC_IN_MODULE}")
    return spec


# -- Swagger 2.0 -> JSON Schema draft 4 -----------------------------------------------------------

_SWAGGER_ONLY = {"discriminator", "readOnly", "xml", "externalDocs", "example", "collectionFormat"}


def to_json_schema(schema: Any, *, closed: bool) -> Any:
    """A Swagger 2.0 schema object as JSON Schema draft 4. `$ref`s keep pointing at
    #/definitions/..., so the converted definitions must sit beside it (see HarborSpec)."""
    if isinstance(schema, list):
        return [to_json_schema(s, closed=closed) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = {"$ref": schema["$ref"]}
        return {"anyOf": [ref, {"type": "null"}]} if schema.get("x-nullable") else ref
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-") or key in _SWAGGER_ONLY:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(s, closed=closed) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "allOf", "not"):
            out[key] = to_json_schema(value, closed=closed)
        else:
            out[key] = value
    if schema.get("x-nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if closed and "properties" in out and "additionalProperties" not in out and "allOf" not in out:
        out["additionalProperties"] = False
    return out


def _int_format(bits: int) -> Callable[[object], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: object) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high

    return check


_FORMATS = jsonschema.FormatChecker()
_FORMATS.checks("int32")(_int_format(32))
_FORMATS.checks("int64")(_int_format(64))


_Q_ITEM = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*=(~.*|\[.*~.*\]|\{.*\}|\(.*\)|[^~\[{(].*)?")


def _check_q(value: str, miss: Callable[[str, str, object], None]) -> None:
    """The `q` query language of #/parameters/query: comma-separated k=v, k=~v, k=[min~max],
    k={v1 v2}, k=(v1 v2). A value holding a comma or `=` would be read as another item."""
    for item in value.split(","):
        if not _Q_ITEM.fullmatch(item):
            miss("query.q", "comma-separated items k=v, k=~v, k=[min~max], k={v1 v2} or k=(v1 v2)", value)
            return


# -- the spec -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    template: str  # path template under basePath, e.g. /projects/{project_name_or_id}
    operation_id: str
    parameters: tuple[dict[str, Any], ...]  # $refs resolved; path-level ones merged in
    responses: Mapping[str, dict[str, Any]]  # status or "default" -> response ($ref resolved)

    def params(self, location: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.parameters if p.get("in") == location}

    def header(self, name: str) -> dict[str, Any] | None:
        return next((p for n, p in self.params("header").items() if n.lower() == name.lower()), None)

    @property
    def body(self) -> dict[str, Any] | None:
        return next((p for p in self.parameters if p.get("in") == "body"), None)


@dataclass(frozen=True)
class Mismatch:
    """One difference between an exchange and the spec: who (operation), what (field), the spec's
    expectation and what was sent or answered."""

    direction: str  # "request" | "response"
    operation_id: str  # or "<no operation>" when the route is not in the spec
    route: str  # "POST /projects"
    field: str  # "body.metadata.public", "query.page_size", "header.X-Is-Resource-Name", "status"
    expected: str
    got: str

    def __str__(self) -> str:
        return (
            f"{self.direction} {self.operation_id} ({self.route}) {self.field}: "
            f"spec expects {self.expected}; got {self.got}"
        )


class HarborSpec:
    """The parsed swagger.yaml: route matching and request/response checks."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("swagger") != "2.0":
            raise ValueError(f"not a Swagger 2.0 document: swagger={document.get('swagger')!r}")
        self.document = document
        self.base_path: str = document.get("basePath", "")
        self.version: str = str(document.get("info", {}).get("version", ""))
        self.consumes: list[str] = document.get("consumes", [])
        self.produces: list[str] = document.get("produces", [])
        self.definitions: dict[str, Any] = document.get("definitions", {})
        self._closed_definitions = {k: to_json_schema(v, closed=True) for k, v in self.definitions.items()}
        self.operations: list[Operation] = list(self._operations())
        # literal segments first: /users/search and /users/current before /users/{user_id}
        self._routes = sorted(
            ((self._compile(op.template), op) for op in self.operations),
            key=lambda item: (-item[1].template.count("/"), item[1].template.count("{")),
        )

    @classmethod
    def load(cls, path: Path) -> HarborSpec:
        return _load_cached(str(path), path.stat().st_mtime_ns)

    # -- structure ------------------------------------------------------------------------------

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in node and seen < 16:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"external $ref {ref!r} is not supported")
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, seen = target, seen + 1
        return node

    def _operations(self) -> Iterator[Operation]:
        for template, item in self.document.get("paths", {}).items():
            shared = [self._resolve(p) for p in item.get("parameters", [])]
            for method, op in item.items():
                if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                    continue
                own = [self._resolve(p) for p in op.get("parameters", [])]
                keys = {(p["name"], p["in"]) for p in own}
                params = tuple(own + [p for p in shared if (p["name"], p["in"]) not in keys])
                responses = {str(k): self._resolve(v) for k, v in op.get("responses", {}).items()}
                yield Operation(method.upper(), template, op.get("operationId", ""), params, responses)

    @staticmethod
    def _compile(template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", template)
        pattern = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(pattern)

    def operation(self, operation_id: str) -> Operation:
        return next(op for op in self.operations if op.operation_id == operation_id)

    def definition_properties(self, name: str) -> set[str]:
        return set(self.definitions[name].get("properties", {}))

    def schema(self, swagger_schema: dict[str, Any]) -> dict[str, Any]:
        """A self-contained draft-4 schema (closed objects) for a Swagger schema of this spec."""
        converted = to_json_schema(swagger_schema, closed=True)
        return (
            {**converted, "definitions": self._closed_definitions}
            if isinstance(converted, dict)
            else converted
        )

    def match(self, method: str, raw_path: str) -> tuple[Operation | None, dict[str, str], bool]:
        """(operation, path params decoded once, whether the path exists for another method)."""
        path = raw_path[len(self.base_path) :] if raw_path.startswith(self.base_path) else raw_path
        path_known = False
        for pattern, op in self._routes:
            found = pattern.fullmatch(path)
            if not found:
                continue
            if op.method == method.upper():
                return op, {k: unquote(v) for k, v in found.groupdict().items()}, True
            path_known = True
        return None, {}, path_known

    # -- requests -------------------------------------------------------------------------------

    def check_request(self, request: httpx.Request) -> tuple[Operation | None, list[Mismatch]]:
        raw_path = request.url.raw_path.decode().split("?", 1)[0]
        route = f"{request.method} {raw_path}"
        op, path_params, path_known = self.match(request.method, raw_path)
        if op is None:
            expected = (
                "one of the methods the spec declares for this path"
                if path_known
                else f"a path declared under {self.base_path}"
            )
            return None, [Mismatch("request", "<no operation>", route, "route", expected, route)]
        route = f"{op.method} {op.template}"
        found: list[Mismatch] = []

        def miss(where: str, expected: str, got: object) -> None:
            found.append(Mismatch("request", op.operation_id, route, where, expected, repr(got)))

        for name, param in op.params("path").items():
            value = path_params.get(name)
            if value is None:
                miss(f"path.{name}", "a value", None)
            else:
                self._check_simple(param, value, f"path.{name}", miss)
                if "/" in value:
                    # Harbor's router decodes the path once: a `/` there splits the segment
                    miss(f"path.{name}", "no `/` after one decoding (encode a slash twice: a%252Fb)", value)

        sent_query: dict[str, list[str]] = {}
        for name, value in request.url.params.multi_items():
            sent_query.setdefault(name, []).append(value)
        declared_query = op.params("query")
        for name, values in sent_query.items():
            query_param = declared_query.get(name)
            if query_param is None:
                miss(f"query.{name}", f"one of the declared query parameters {sorted(declared_query)}", name)
                continue
            if len(values) > 1 and query_param.get("type") != "array":
                miss(f"query.{name}", "a single value", values)
            for value in values:
                self._check_simple(query_param, value, f"query.{name}", miss)
                if name == "q":
                    _check_q(value, miss)
        for name, param in declared_query.items():
            if param.get("required") and name not in sent_query:
                miss(f"query.{name}", "required", None)

        declared_headers = op.params("header")
        for name, param in declared_headers.items():
            value = request.headers.get(name)
            if value is None:
                if param.get("required"):
                    miss(f"header.{name}", "required", None)
            else:
                self._check_simple(param, value, f"header.{name}", miss)
        lower_declared = {n.lower() for n in declared_headers}
        for name in request.headers:
            if name.lower().startswith("x-") and name.lower() not in lower_declared:
                miss(
                    f"header.{name}",
                    f"only declared headers {sorted(declared_headers)} (Harbor ignores others)",
                    name,
                )
        self._check_name_or_id(op, path_params, request, miss)

        self._check_request_body(op, request, miss)
        return op, found

    def _check_name_or_id(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        request: httpx.Request,
        miss: Callable[[str, str, object], None],
    ) -> None:
        """A `{..._name_or_id}` given as a name must come with X-Is-Resource-Name: true; Harbor
        reads a value that parses as an integer as an id otherwise."""
        if op.header("X-Is-Resource-Name") is None:
            return
        for name, value in path_params.items():
            if not name.endswith("_name_or_id") or re.fullmatch(r"[0-9]+", value):
                continue
            flag = request.headers.get("X-Is-Resource-Name", "")
            if flag.lower() != "true":
                miss(
                    "header.X-Is-Resource-Name",
                    f"true when {{{name}}} is a name ({value!r}); an all-digit name would be read as an id",
                    flag or None,
                )

    def _check_request_body(
        self, op: Operation, request: httpx.Request, miss: Callable[[str, str, object], None]
    ) -> None:
        body_param = op.body
        content = request.content
        if body_param is None:
            if content:
                miss("body", "no body (the operation declares none)", content[:80].decode(errors="replace"))
            return
        if not content:
            if body_param.get("required"):
                miss(f"body ({body_param['name']})", "required", None)
            return
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if self.consumes and content_type not in self.consumes:
            miss("header.Content-Type", f"one of {self.consumes}", content_type)
        try:
            payload = json.loads(content)
        except ValueError:
            miss("body", "JSON", content[:80].decode(errors="replace"))
            return
        for where, expected, got in self._validate(body_param.get("schema", {}), payload, "body"):
            miss(where, expected, got)

    @staticmethod
    def _check_simple(
        param: Mapping[str, Any], value: str, where: str, miss: Callable[[str, str, object], None]
    ) -> None:
        """A path/query/header value as Swagger's simple types (strings on the wire)."""
        kind = param.get("type", "string")
        number: float | None = None
        if kind == "integer":
            if not re.fullmatch(r"[+-]?[0-9]+", value):
                miss(where, "an integer", value)
                return
            number = int(value)
        elif kind == "number":
            try:
                number = float(value)
            except ValueError:
                miss(where, "a number", value)
                return
        elif kind == "boolean":
            # go-swagger reads booleans with strconv.ParseBool
            if value not in {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}:
                miss(where, "a boolean (true/false)", value)
        elif kind == "string":
            if "minLength" in param and len(value) < param["minLength"]:
                miss(where, f"at least {param['minLength']} characters", value)
            if "maxLength" in param and len(value) > param["maxLength"]:
                miss(where, f"at most {param['maxLength']} characters", value)
            if "pattern" in param and not re.search(param["pattern"], value):
                miss(where, f"matching {param['pattern']}", value)
        if "enum" in param and value not in [str(e) for e in param["enum"]]:
            miss(where, f"one of {param['enum']}", value)
        if number is not None:
            if "maximum" in param and number > param["maximum"]:
                miss(where, f"at most {param['maximum']}", value)
            if "minimum" in param and number < param["minimum"]:
                miss(where, f"at least {param['minimum']}", value)

    def _validate(
        self, swagger_schema: dict[str, Any], payload: Any, root: str
    ) -> Iterator[tuple[str, str, str]]:
        validator = jsonschema.Draft4Validator(self.schema(swagger_schema), format_checker=_FORMATS)
        for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            if error.validator == "additionalProperties":
                extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
                for name in extra:
                    yield (
                        f"{root}{path}.{name}",
                        f"one of the declared properties {sorted(error.schema.get('properties', {}))}",
                        repr(name),
                    )
                continue
            expected = f"{error.validator} {json.dumps(error.validator_value)[:200]}"
            yield f"{root}{path}", expected, json.dumps(error.instance)[:200]

    # -- responses ------------------------------------------------------------------------------

    def check_response(self, op: Operation, response: httpx.Response) -> tuple[list[Mismatch], list[str]]:
        """(mismatches, notes). Notes: undeclared error statuses with a valid Errors body."""
        route = f"{op.method} {op.template}"
        status = str(response.status_code)
        found: list[Mismatch] = []
        notes: list[str] = []

        def miss(where: str, expected: str, got: object) -> None:
            found.append(Mismatch("response", op.operation_id, route, where, expected, str(got)))

        declared = op.responses.get(status) or op.responses.get("default")
        schema: dict[str, Any] | None
        if declared is None:
            if response.status_code < 400:
                miss("status", f"one of the declared statuses {sorted(op.responses)}", status)
                return found, notes
            notes.append(f"{op.operation_id} ({route}): status {status} not declared by the spec")
            schema = {"$ref": "#/definitions/Errors"}
            headers: dict[str, Any] = {}
        else:
            schema = declared.get("schema")
            headers = declared.get("headers", {})
        content = response.content
        if schema is None:
            if content and op.method != "HEAD":
                miss(
                    f"body ({status})",
                    "no body (the spec declares no schema)",
                    content[:80].decode(errors="replace"),
                )
        elif not content:
            miss(f"body ({status})", f"a body: {json.dumps(schema)[:120]}", "an empty body")
        else:
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            if self.produces and content_type not in self.produces:
                miss("header.Content-Type", f"one of {self.produces}", content_type or None)
            try:
                payload = json.loads(content)
            except ValueError:
                miss(f"body ({status})", "JSON", content[:80].decode(errors="replace"))
            else:
                for where, expected, got in self._validate(schema, payload, f"body ({status})"):
                    miss(where, expected, got)
        for name, spec in headers.items():
            value = response.headers.get(name)
            if value is not None and spec.get("type") == "integer" and not re.fullmatch(r"[0-9]+", value):
                miss(f"header.{name}", "an integer", value)
        return found, notes


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, _mtime: int) -> HarborSpec:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return HarborSpec(yaml.load(handle, Loader=loader))  # noqa: S506 (a safe loader)


# -- recording exchanges --------------------------------------------------------------------------


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    operation_id: str | None  # None: outside basePath (skipped) or not in the spec


@dataclass
class ContractRecorder:
    """An httpx.MockTransport handler: checks each exchange against the spec, then passes it on.

    `handler` is the in-memory Harbor (any callable request -> response). Paths outside the
    spec's basePath (Harbor's token service /service/token) are not in the spec: they are passed
    through unchecked and listed in `skipped`.
    """

    spec: HarborSpec
    handler: Callable[[httpx.Request], httpx.Response]
    exchanges: list[Exchange] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode().split("?", 1)[0]
        if not raw_path.startswith(self.spec.base_path + "/"):
            response = self.handler(request)
            self.skipped.append(f"{request.method} {raw_path}")
            self.exchanges.append(Exchange(request.method, raw_path, response.status_code, None))
            return response
        op, found = self.spec.check_request(request)
        self.mismatches.extend(found)
        response = self.handler(request)
        response.read()
        if op is not None:
            more, notes = self.spec.check_response(op, response)
            self.mismatches.extend(more)
            self.notes.extend(notes)
        self.exchanges.append(
            Exchange(request.method, raw_path, response.status_code, op.operation_id if op else None)
        )
        return response

    @property
    def operation_ids(self) -> set[str]:
        return {e.operation_id for e in self.exchanges if e.operation_id}

    def of(self, direction: str) -> list[Mismatch]:
        return [m for m in self.mismatches if m.direction == direction]

    def report(self, direction: str | None = None) -> str:
        """Distinct mismatches, one per line (the same one repeats on every page or retry)."""
        chosen: Iterable[Mismatch] = self.mismatches if direction is None else self.of(direction)
        return "\n".join(dict.fromkeys(str(m) for m in chosen))
