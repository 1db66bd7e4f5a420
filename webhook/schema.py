"""The wire format of /mutate and /validate as pydantic models, for the OpenAPI document only.

The handler itself reads plain dicts (webhook/review.py): validating whole objects through models on
every request would cost more than the decision. These describe the same rules for docs and fuzzers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema


class GroupVersionKind(BaseModel):
    group: str = ""
    version: str
    kind: str


class AdmissionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # resource, userInfo, options, ...: read by nobody here

    uid: str = Field(min_length=1)
    kind: GroupVersionKind
    operation: Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
    namespace: str = ""
    name: str = ""
    subResource: str = ""
    object: Any = Field(default=None, description="null on DELETE")
    oldObject: Any = Field(default=None, description="null on CREATE")
    dryRun: bool = False


class AdmissionReviewRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    apiVersion: Literal["admission.k8s.io/v1"]
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


class Status(BaseModel):
    code: int
    message: str


class AdmissionResponse(BaseModel):
    uid: str = Field(description="the request's uid")
    allowed: bool
    patchType: Literal["JSONPatch"] | None = Field(default=None, description="with patch, from /mutate only")
    patch: str | None = Field(default=None, description="base64 of an RFC 6902 JSON Patch array")
    warnings: list[str] | None = None
    status: Status | None = Field(default=None, description="why a request is denied or refused")


class AdmissionReviewResponse(BaseModel):
    apiVersion: Literal["admission.k8s.io/v1"]
    kind: Literal["AdmissionReview"]
    response: AdmissionResponse


class Problem(BaseModel):
    error: str


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def admission_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI paths of /mutate and /validate, and the component schemas they refer to."""
    _, top = models_json_schema(
        [
            (AdmissionReviewRequest, "validation"),
            (AdmissionReviewResponse, "serialization"),
            (Problem, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    responses = {
        "200": _json(_ref(AdmissionReviewResponse), "The decision (a denial has allowed: false)"),
        "400": _json(
            {"anyOf": [_ref(AdmissionReviewResponse), _ref(Problem)]},
            "Not JSON, or not an AdmissionReview v1 (an AdmissionReview when request.uid was readable)",
        ),
        "413": _json(_ref(Problem), "Body larger than webhook.maxBodyBytes"),
        "415": _json(_ref(Problem), "Content type is not application/json"),
    }
    paths: dict[str, Any] = {}
    for path, what in (("/mutate", "mutating: may return a JSON Patch"), ("/validate", "validating")):
        paths[path] = {
            "post": {
                "summary": f"AdmissionReview v1, {what}",
                "operationId": path.strip("/"),
                "requestBody": {"required": True, **_json(_ref(AdmissionReviewRequest), "AdmissionReview")},
                "responses": responses,
            }
        }
    return paths, top["$defs"]
