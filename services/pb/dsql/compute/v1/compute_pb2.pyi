from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionStart(_message.Message):
    __slots__ = ("user", "database", "options", "iam_principal", "backend_pid", "cancel_secret", "client_addr", "client_port")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USER_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    IAM_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    BACKEND_PID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_SECRET_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDR_FIELD_NUMBER: _ClassVar[int]
    CLIENT_PORT_FIELD_NUMBER: _ClassVar[int]
    user: str
    database: str
    options: _containers.ScalarMap[str, str]
    iam_principal: str
    backend_pid: int
    cancel_secret: int
    client_addr: str
    client_port: int
    def __init__(self, user: _Optional[str] = ..., database: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., iam_principal: _Optional[str] = ..., backend_pid: _Optional[int] = ..., cancel_secret: _Optional[int] = ..., client_addr: _Optional[str] = ..., client_port: _Optional[int] = ...) -> None: ...

class SessionUp(_message.Message):
    __slots__ = ("start", "messages")
    START_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    start: SessionStart
    messages: bytes
    def __init__(self, start: _Optional[_Union[SessionStart, _Mapping]] = ..., messages: _Optional[bytes] = ...) -> None: ...

class SessionDown(_message.Message):
    __slots__ = ("messages", "close")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    messages: bytes
    close: bool
    def __init__(self, messages: _Optional[bytes] = ..., close: _Optional[bool] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("backend_pid", "cancel_secret")
    BACKEND_PID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_SECRET_FIELD_NUMBER: _ClassVar[int]
    backend_pid: int
    cancel_secret: int
    def __init__(self, backend_pid: _Optional[int] = ..., cancel_secret: _Optional[int] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("az", "sessions")
    AZ_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    az: str
    sessions: int
    def __init__(self, az: _Optional[str] = ..., sessions: _Optional[int] = ...) -> None: ...
