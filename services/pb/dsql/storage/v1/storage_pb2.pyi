from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetRequest(_message.Message):
    __slots__ = ("read_ts", "keys")
    READ_TS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    read_ts: int
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, read_ts: _Optional[int] = ..., keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class OptionalValue(_message.Message):
    __slots__ = ("found", "value")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    value: bytes
    def __init__(self, found: _Optional[bool] = ..., value: _Optional[bytes] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[OptionalValue]
    def __init__(self, values: _Optional[_Iterable[_Union[OptionalValue, _Mapping]]] = ...) -> None: ...

class ScanRequest(_message.Message):
    __slots__ = ("read_ts", "start", "end", "limit", "reverse", "predicates", "project", "columns")
    READ_TS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    PREDICATES_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    read_ts: int
    start: bytes
    end: bytes
    limit: int
    reverse: bool
    predicates: _containers.RepeatedCompositeFieldContainer[ColumnPredicate]
    project: bool
    columns: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, read_ts: _Optional[int] = ..., start: _Optional[bytes] = ..., end: _Optional[bytes] = ..., limit: _Optional[int] = ..., reverse: _Optional[bool] = ..., predicates: _Optional[_Iterable[_Union[ColumnPredicate, _Mapping]]] = ..., project: _Optional[bool] = ..., columns: _Optional[_Iterable[int]] = ...) -> None: ...

class ColumnPredicate(_message.Message):
    __slots__ = ("column_id", "op", "kind", "value")
    COLUMN_ID_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    column_id: int
    op: str
    kind: str
    value: bytes
    def __init__(self, column_id: _Optional[int] = ..., op: _Optional[str] = ..., kind: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...

class KeyValue(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class ScanResponse(_message.Message):
    __slots__ = ("rows", "more", "resume_key", "rows_examined")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    RESUME_KEY_FIELD_NUMBER: _ClassVar[int]
    ROWS_EXAMINED_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[KeyValue]
    more: bool
    resume_key: bytes
    rows_examined: int
    def __init__(self, rows: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., more: _Optional[bool] = ..., resume_key: _Optional[bytes] = ..., rows_examined: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("az", "applied_index", "applied_ts", "closed_ts")
    AZ_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_TS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_TS_FIELD_NUMBER: _ClassVar[int]
    az: str
    applied_index: int
    applied_ts: int
    closed_ts: int
    def __init__(self, az: _Optional[str] = ..., applied_index: _Optional[int] = ..., applied_ts: _Optional[int] = ..., closed_ts: _Optional[int] = ...) -> None: ...
