"""Every Airflow import of the provider, for Airflow 3 (``airflow.sdk``) and 2.10+.

The rest of the package imports Airflow names from here only, so it reads the same on
both major versions. The core (``core/``, ``models/``) imports none of them. Names a DAG
file does not need (the trigger's base classes, ``XCom``, OpenLineage's ``OperatorLineage``)
are imported on first use (:func:`__getattr__`), not when a DAG file imports an operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import airflow

AIRFLOW_VERSION: tuple[int, ...] = tuple(
    int(part) for part in airflow.__version__.split(".")[:3] if part.isdigit()
)
AIRFLOW_V_3_0_PLUS = AIRFLOW_VERSION >= (3, 0)

# Newer Airflow features the provider uses where they exist and does without elsewhere
# (docs/compatibility.md): rescheduled sensors keep their records in the task state store,
# the triggerer calls a deferred task's trigger ``on_kill``, the UI builds the connection form
# from the provider info's ``conn-fields`` (before: from the hook's methods).
HAS_TASK_STATE_STORE = AIRFLOW_VERSION >= (3, 3)
HAS_TRIGGER_ON_KILL = AIRFLOW_VERSION >= (3, 3)
READS_CONN_FIELDS = AIRFLOW_VERSION >= (3, 2)
# Asset watchers (``AssetWatcher`` with a ``BaseEventTrigger``) schedule DAGs from events.
HAS_ASSET_WATCHERS = AIRFLOW_V_3_0_PLUS

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator, PokeReturnValue

    # These names reached airflow.sdk after 3.0 (BaseHook in 3.1, conf and the exceptions
    # in 3.2), so older 3.x fall back.
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 3.0: the hook base class still lives in airflow.hooks.base
        from airflow.hooks.base import BaseHook  # type: ignore
    try:
        from airflow.sdk import conf
    except ImportError:
        from airflow.configuration import conf  # type: ignore
    try:
        from airflow.sdk.exceptions import (
            AirflowException,
            AirflowSensorTimeout,
            AirflowSkipException,
            TaskDeferred,
        )
    except ImportError:
        from airflow.exceptions import (  # type: ignore
            AirflowException,
            AirflowSensorTimeout,
            AirflowSkipException,
            TaskDeferred,
        )
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore
else:  # Airflow 2.10+
    from airflow.configuration import conf  # type: ignore
    from airflow.exceptions import (  # type: ignore
        AirflowException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.hooks.base import BaseHook  # type: ignore
    from airflow.models import BaseOperator, BaseOperatorLink  # type: ignore
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Asset, AssetWatcher, Context
    from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time.xcom import XCom
    else:
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
else:
    Context = dict


def __getattr__(name: str) -> Any:
    """The Airflow names imported on first use (see the module's docstring)."""
    if name in ("BaseTrigger", "TriggerEvent"):
        import airflow.triggers.base as triggers

        return getattr(triggers, name)
    if name in ("BaseEventTrigger", "Asset", "AssetWatcher"):
        if not HAS_ASSET_WATCHERS:
            raise ImportError(
                f"{name} needs Airflow 3.0 or later (asset watchers); this is Airflow {airflow.__version__}"
            )
        if name == "BaseEventTrigger":
            from airflow.triggers.base import BaseEventTrigger

            return BaseEventTrigger
        import airflow.sdk as sdk

        return getattr(sdk, name)
    if name == "XCom":
        if AIRFLOW_V_3_0_PLUS:
            from airflow.sdk.execution_time.xcom import XCom
        else:
            from airflow.models.xcom import XCom  # type: ignore[no-redef]
        return XCom
    if name == "OperatorLineage":  # ImportError without the OpenLineage provider
        from airflow.providers.openlineage.extractors import OperatorLineage

        return OperatorLineage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "HAS_ASSET_WATCHERS",
    "HAS_TASK_STATE_STORE",
    "HAS_TRIGGER_ON_KILL",
    "READS_CONN_FIELDS",
    "AirflowException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "AssetWatcher",
    "BaseEventTrigger",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "OperatorLineage",
    "PokeReturnValue",
    "TaskDeferred",
    "TriggerEvent",
    "XCom",
    "aextra_dejson",
    "aget_connection",
    "amask_secret",
    "conf",
    "features",
    "first_reschedule_date",
    "mask_secret",
]


def features() -> dict[str, bool]:
    """Which optional Airflow features this Airflow has (for the compatibility matrix)."""
    return {
        "task_state_store": HAS_TASK_STATE_STORE,
        "trigger_on_kill": HAS_TRIGGER_ON_KILL,
        "declarative_connection_form": READS_CONN_FIELDS,
    }


def first_reschedule_date(context: Any, retries: int | None) -> Any:
    """When a rescheduled sensor first poked in this run (``None`` at its first poke).

    The datetime Airflow's own sensor timeout counts from, read the way Airflow reads it.
    """
    ti = context["ti"]
    if AIRFLOW_V_3_0_PLUS:
        return ti.get_first_reschedule_date(context)
    from airflow.sensors.base import _orig_start_date  # type: ignore[attr-defined]

    return _orig_start_date(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        map_index=ti.map_index,
        try_number=(ti.max_tries or 0) - (retries or 0) + 1,  # the first try of this run
    )


async def amask_secret(secret: str) -> None:
    """``mask_secret`` for the event loop (the sync one can deadlock the triggerer)."""
    if AIRFLOW_V_3_0_PLUS:
        import airflow.sdk.log as sdk_log

        if hasattr(sdk_log, "amask_secret"):
            await sdk_log.amask_secret(secret)
            return
    from asgiref.sync import sync_to_async

    await sync_to_async(mask_secret)(secret)


async def aextra_dejson(conn: Any) -> dict[str, Any]:
    """A connection's extras, read without the sync masking path where possible."""
    if hasattr(conn, "aextra_dejson"):
        return dict(await conn.aextra_dejson())
    # extra_dejson masks what it reads with the blocking mask_secret: off the event loop.
    from asgiref.sync import sync_to_async

    return dict(await sync_to_async(lambda: conn.extra_dejson)())


async def aget_connection(conn_id: str) -> Any:
    """Resolve a connection without blocking the triggerer's event loop.

    Airflow 3.3.2+ has a safe ``aget_connection``; before it, the sync lookup in a
    thread is the pattern that avoids the triggerer deadlock.
    """
    if AIRFLOW_VERSION >= (3, 3, 2) and hasattr(BaseHook, "aget_connection"):
        return await BaseHook.aget_connection(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)
