"""Defaults shared by the hook, the operator and the sensor (a module cheap to import)."""

DEFAULT_CONN_ID = "ica_default"
DEFAULT_PAGE_SIZE = 1000  # items per page when listing a batch
IDEMPOTENCY_KEY_MAX = 255  # characters, the spec's limit
