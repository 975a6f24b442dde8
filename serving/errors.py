"""Serving errors as TF Serving reports them: a canonical status code, message and HTTP code."""

from __future__ import annotations

import grpc

# TF Serving's ToHTTPStatusCode (model_servers/http_server.cc), by canonical code name.
_HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class ServingError(Exception):
    """A failed request: `code` is a grpc.StatusCode, `message` the text clients see."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def code_name(self) -> str:
        """The canonical name, e.g. INVALID_ARGUMENT (what metrics and StatusProto use)."""
        return self.code.name

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code.name, 500)

    def __repr__(self) -> str:
        return f"ServingError({self.code.name}, {self.message!r})"


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def failed_precondition(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def unavailable(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.UNAVAILABLE, message)


def internal(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INTERNAL, message)


def code_from_number(number: int) -> grpc.StatusCode:
    """TensorFlow error codes are the canonical codes: OpError.error_code maps one to one."""
    return _BY_NUMBER.get(int(number), grpc.StatusCode.UNKNOWN)
