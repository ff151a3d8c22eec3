"""The users directory of the 督办 workflow (workflow.md § Who may do what).

A TOML file named by the configuration's ``[workflow] users_file``: one table per
``user_id`` with ``name``, ``role`` and ``departments``. Validated at load; an error
names the file and the key. The product never stores passwords: identity comes from
the deployment, this file says what each identity may do.

```toml
[users.I-D01-1]
name = "王监察"
role = "inspector"          # inspector, approver, department, auditor, admin
departments = ["D01", "D02"]
```

``departments`` is the scope: the departments an inspector or auditor acts or reads
within, the department(s) a department user belongs to. An approver or admin with no
departments covers every department.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROLES = ("inspector", "approver", "department", "auditor", "admin")
SYSTEM_USER = "system"
"""The engine's own identity (workflow.md: the engine may act as ``system``); no user may have it."""
_SCOPED = frozenset({"inspector", "department", "auditor"})


class UsersError(ValueError):
    """A users file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    name: str
    role: str
    departments: frozenset[str]

    def covers(self, dept: str) -> bool:
        """Whether ``dept`` is within this user's scope."""
        if not self.departments:
            return self.role not in _SCOPED
        return dept in self.departments


class _UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    role: Literal["inspector", "approver", "department", "auditor", "admin"]
    departments: list[str] = Field(default_factory=list)

    @field_validator("departments")
    @classmethod
    def _depts(cls, value: list[str]) -> list[str]:
        for dept in value:
            if not 1 <= len(dept) <= 64:
                raise ValueError(f"department {dept!r} must have 1..64 characters")
        return value

    @model_validator(mode="after")
    def _scope(self) -> _UserEntry:
        if self.role in _SCOPED and not self.departments:
            raise ValueError(f"a user with role {self.role!r} needs at least one department")
        return self


class _UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: dict[str, _UserEntry] = Field(default_factory=dict)

    @field_validator("users")
    @classmethod
    def _ids(cls, value: dict[str, _UserEntry]) -> dict[str, _UserEntry]:
        for user_id in value:
            if not 1 <= len(user_id) <= 64:
                raise ValueError(f"user_id {user_id!r} must have 1..64 characters")
            if user_id == SYSTEM_USER:
                raise ValueError(f"user_id {SYSTEM_USER!r} is reserved for the engine")
        return value


def parse_users(data: Mapping[str, object], source: str) -> dict[str, User]:
    """The users of a decoded users file, by ``user_id``."""
    try:
        parsed = _UsersFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UsersError(f"{source}: {where}: {first['msg']}{more}") from None
    return {
        user_id: User(user_id, entry.name, entry.role, frozenset(entry.departments))
        for user_id, entry in parsed.users.items()
    }


def load_users(path: Path) -> dict[str, User]:
    """The users of a users file, by ``user_id``."""
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise UsersError(f"cannot read users file {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersError(f"users file {path} is not valid TOML: {exc}") from None
    return parse_users(data, str(path))
