from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Mutation(_message.Message):
    __slots__ = ("key", "value", "delete")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    delete: bool
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., delete: _Optional[bool] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("start_ts", "writes", "check_keys")
    START_TS_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    CHECK_KEYS_FIELD_NUMBER: _ClassVar[int]
    start_ts: int
    writes: _containers.RepeatedCompositeFieldContainer[Mutation]
    check_keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, start_ts: _Optional[int] = ..., writes: _Optional[_Iterable[_Union[Mutation, _Mapping]]] = ..., check_keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("outcome", "commit_ts", "conflict_key", "leader")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        COMMITTED: _ClassVar[CommitResponse.Outcome]
        CONFLICT: _ClassVar[CommitResponse.Outcome]
        NOT_LEADER: _ClassVar[CommitResponse.Outcome]
    COMMITTED: CommitResponse.Outcome
    CONFLICT: CommitResponse.Outcome
    NOT_LEADER: CommitResponse.Outcome
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TS_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_KEY_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    outcome: CommitResponse.Outcome
    commit_ts: int
    conflict_key: bytes
    leader: str
    def __init__(self, outcome: _Optional[_Union[CommitResponse.Outcome, str]] = ..., commit_ts: _Optional[int] = ..., conflict_key: _Optional[bytes] = ..., leader: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("from_index",)
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    from_index: int
    def __init__(self, from_index: _Optional[int] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("index", "commit_ts", "writes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TS_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    index: int
    commit_ts: int
    writes: _containers.RepeatedCompositeFieldContainer[Mutation]
    def __init__(self, index: _Optional[int] = ..., commit_ts: _Optional[int] = ..., writes: _Optional[_Iterable[_Union[Mutation, _Mapping]]] = ...) -> None: ...

class LogBatch(_message.Message):
    __slots__ = ("entries", "closed_ts")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CLOSED_TS_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LogEntry]
    closed_ts: int
    def __init__(self, entries: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ..., closed_ts: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("az", "role", "last_index", "last_commit_ts", "leader", "replication", "term", "commit_index", "applied_index", "closed_ts")
    AZ_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    LAST_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_COMMIT_TS_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLOSED_TS_FIELD_NUMBER: _ClassVar[int]
    az: str
    role: str
    last_index: int
    last_commit_ts: int
    leader: str
    replication: str
    term: int
    commit_index: int
    applied_index: int
    closed_ts: int
    def __init__(self, az: _Optional[str] = ..., role: _Optional[str] = ..., last_index: _Optional[int] = ..., last_commit_ts: _Optional[int] = ..., leader: _Optional[str] = ..., replication: _Optional[str] = ..., term: _Optional[int] = ..., commit_index: _Optional[int] = ..., applied_index: _Optional[int] = ..., closed_ts: _Optional[int] = ...) -> None: ...

class RaftEnvelope(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, messages: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RaftAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
