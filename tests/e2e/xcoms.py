"""Reading a finished run's XComs from the metadata DB, on Airflow 3 and 2."""

from __future__ import annotations

from typing import Any


def xcom(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom

        return XCom.get_one(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key, map_index=-1)
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)
