"""API errors as the API server reports them: a `Status` object with the HTTP code, reason and message."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class ApiError(Exception):
    """Raised anywhere in the fake; the server turns it into a Status response (or a watch ERROR event)."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        """The `Status` object the client parses (the official client puts it in `ApiException.body`)."""
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    status: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        status["details"] = details
    return status


def _details(name: str, group: str, plural: str) -> Obj:
    details: Obj = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def group_resource(group: str, plural: str) -> str:
    """`pods` or `deployments.apps`: how messages name a resource."""
    return f"{plural}.{group}" if group else plural


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user: str, verb: str, group: str, resource: str, name: str, namespace: str) -> ApiError:
    """The RBAC denial message, word for word: clients and operators grep it."""
    plural = resource.split("/", 1)[0]
    subject = f'{group_resource(group, plural)} "{name}"' if name else group_resource(group, plural)
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{group}" {scope}'
    )
    return ApiError(403, "Forbidden", message, _details(name, group, plural))


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{group_resource(group, plural)} "{name}" not found', _details(name, group, plural)
    )


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", f"the server does not allow this method on the requested resource: {method}"
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{group_resource(group, plural)} "{name}" already exists', _details(name, group, plural)
    )


def conflict(group: str, plural: str, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {group_resource(group, plural)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(name, group, plural))


def expired(message: str) -> ApiError:
    """410: the API server's reason for a compacted resourceVersion or continue token is `Expired`, not `Gone`."""
    return ApiError(410, "Expired", message)


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 with field causes, as validation failures (e.g. of PodLogOptions) are reported."""
    text = ", ".join(f"{field}: {why}" for field, why in causes)
    details: Obj = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": "FieldValueInvalid", "message": why, "field": field} for field, why in causes],
    }
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}', details)


def not_acceptable(accept: str) -> ApiError:
    return ApiError(406, "NotAcceptable", f"only the following media types are accepted: application/json ({accept})")


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}")
