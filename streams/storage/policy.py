"""Storage error policy, in one place: whose fault an engine error is, and what happens next.

Every engine error of either backend (a server code, a chdb message, a
clickhouse-driver client error) goes through :func:`classify`, which returns
one of:

- :class:`StorageUnavailable`: **transient** (server down or restarting,
  network, timeouts, memory, too many parts, a cancelled or aborted query).
  The writer retries with back-off and so pushes back on the consumer.
- :class:`StorageMisconfigured`: the schema or the account is wrong. Not the
  rows' fault: it propagates to the caller's retry loop and health checks.
- :class:`StorageRefused`: **the input's fault**, only for the codes of
  :data:`INPUT_FAULT_CODES` (a value the column cannot hold). Retrying the
  same row fails again, so the writer isolates the row and stores it as a
  dead letter with the reason, then carries on.
- :class:`StorageUnclassified`: any other error, and engine errors without a
  code. It is a :class:`StorageUnavailable`: retried with back-off like any
  transient error and counted (``record_storage_failure`` labels it
  ``StorageUnclassified``; ``WriterStats.unclassified``), never taken for a
  bad row. A row is dead-lettered only when the engine says it is wrong.
"""

from __future__ import annotations

from streams.storage.errors import (
    StorageError,
    StorageMisconfigured,
    StorageRefused,
    StorageUnavailable,
    StorageUnclassified,
)

# Engine error codes that mean "try again later", not "your data is wrong".
TRANSIENT_CODES = frozenset(
    {
        3,  # UNEXPECTED_END_OF_FILE
        23,  # CANNOT_READ_FROM_ISTREAM
        24,  # CANNOT_WRITE_TO_OSTREAM
        32,  # ATTEMPT_TO_READ_AFTER_EOF
        40,  # CHECKSUM_DOESNT_MATCH (a corrupted packet)
        159,  # TIMEOUT_EXCEEDED
        173,  # CANNOT_ALLOCATE_MEMORY
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        243,  # NOT_ENOUGH_SPACE
        252,  # TOO_MANY_PARTS (the writer keeps each insert within max_partitions_per_insert_block)
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED (the server is shutting down)
        425,  # SYSTEM_ERROR
        439,  # CANNOT_SCHEDULE_TASK
    }
)

# Codes that mean the schema, database or account is wrong, not the rows.
MISCONFIGURED_CODES = frozenset(
    {
        8,  # THERE_IS_NO_COLUMN
        10,  # NOT_FOUND_COLUMN_IN_BLOCK
        16,  # NO_SUCH_COLUMN_IN_TABLE
        47,  # UNKNOWN_IDENTIFIER
        60,  # UNKNOWN_TABLE
        62,  # SYNTAX_ERROR
        81,  # UNKNOWN_DATABASE
        164,  # READONLY
        192,  # UNKNOWN_USER
        193,  # WRONG_PASSWORD
        194,  # REQUIRED_PASSWORD
        195,  # IP_ADDRESS_NOT_ALLOWED
        497,  # ACCESS_DENIED
        516,  # AUTHENTICATION_FAILED
    }
)

# Codes that blame a value of the inserted data: the row is refused for good.
INPUT_FAULT_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH (clickhouse-driver's TypeMismatchError too)
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        130,  # CANNOT_READ_ARRAY_FROM_TEXT
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        376,  # CANNOT_PARSE_UUID
        407,  # DECIMAL_OVERFLOW
        441,  # CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
    }
)


def classify(code: int | None, message: str) -> StorageError:
    """The storage error for an engine error code (None: the engine gave none)."""
    if code in TRANSIENT_CODES:
        return StorageUnavailable(f"engine error {code}: {message}")
    if code in MISCONFIGURED_CODES:
        return StorageMisconfigured(
            f"engine error {code} (schema or account; has `supervise db migrate` run?): {message}"
        )
    if code in INPUT_FAULT_CODES:
        return StorageRefused(f"refused (code {code}): {message}")
    return StorageUnclassified(
        f"unclassified engine error (code {code if code is not None else 'none'}), "
        f"retried: {message}"
    )


def value_refused(exc: BaseException) -> StorageRefused:
    """A value the client could not serialize into its column (TypeError, ValueError, ...)."""
    return StorageRefused(f"bad value: {exc}")
