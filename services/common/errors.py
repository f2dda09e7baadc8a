"""PostgreSQL-style errors carried from wherever they arise to the client.

Every error a client can see is a PgError: SQLSTATE, message, and the optional
DETAIL/HINT/position fields of an ErrorResponse. Internal failures that are not
PgErrors become XX000 at the session boundary.
"""

from __future__ import annotations


class PgError(Exception):
    sqlstate = "XX000"

    def __init__(self, message: str, *, sqlstate: str | None = None, detail: str | None = None,
                 hint: str | None = None, position: int | None = None, severity: str = "ERROR"):
        super().__init__(message)
        self.message = message
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint
        self.position = position      # 1-based character offset into the statement
        self.severity = severity

    def __repr__(self) -> str:
        return f"PgError({self.sqlstate}, {self.message!r})"


def _define(name: str, sqlstate: str) -> type[PgError]:
    return type(name, (PgError,), {"sqlstate": sqlstate})


# The classes that the services raise by name; anything else uses sqlstate=.
SyntaxError_ = _define("SyntaxError_", "42601")
FeatureNotSupported = _define("FeatureNotSupported", "0A000")
UndefinedTable = _define("UndefinedTable", "42P01")
UndefinedColumn = _define("UndefinedColumn", "42703")
UndefinedFunction = _define("UndefinedFunction", "42883")
UndefinedObject = _define("UndefinedObject", "42704")
DuplicateTable = _define("DuplicateTable", "42P07")
DuplicateSchema = _define("DuplicateSchema", "42P06")
InvalidSchemaName = _define("InvalidSchemaName", "3F000")
UniqueViolation = _define("UniqueViolation", "23505")
NotNullViolation = _define("NotNullViolation", "23502")
SerializationFailure = _define("SerializationFailure", "40001")
InFailedTransaction = _define("InFailedTransaction", "25P02")
ProgramLimitExceeded = _define("ProgramLimitExceeded", "54000")
OutOfMemory = _define("OutOfMemory", "53200")
InvalidAuthorization = _define("InvalidAuthorization", "28000")
InvalidPassword = _define("InvalidPassword", "28P01")
ProtocolViolation = _define("ProtocolViolation", "08P01")
TooManyConnections = _define("TooManyConnections", "53300")
ConfigurationLimitExceeded = _define("ConfigurationLimitExceeded", "53400")
QueryCanceled = _define("QueryCanceled", "57014")

# The guide's optimistic-concurrency failures (both SQLSTATE 40001).
OC000_MESSAGE = "mutation conflicts with another transaction, retry as needed"
OC001_MESSAGE = "schema has been updated by another transaction, retry as needed"


def mutation_conflict() -> SerializationFailure:
    return SerializationFailure(f"{OC000_MESSAGE} (OC000)")


def schema_conflict() -> SerializationFailure:
    return SerializationFailure(f"{OC001_MESSAGE} (OC001)")
