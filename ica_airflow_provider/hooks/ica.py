"""``IcaHook``: the ``ica`` connection, the requests transport, and every synchronous call to ICA.

Each method drives one of the core's generators (:mod:`~ica_airflow_provider.core`) with
:meth:`IcaHook.run`: requests go out through :meth:`IcaHook._send` (requests), sleeps
are ``time.sleep``. The wait methods (:meth:`~IcaHook.poll_batch`,
:meth:`~IcaHook.wait_for_batch`, :meth:`~IcaHook.finish_batch`, :meth:`~IcaHook.abort_running`)
are what the operator and the sensor call; they never touch the protocol themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ica_airflow_provider._compat import BaseHook
from ica_airflow_provider.core.drive import Hints, drive
from ica_airflow_provider.core.errors import IcaError
from ica_airflow_provider.core.messages import Outcome, Request, Response, TransportFailure
from ica_airflow_provider.core.protocol import Call, IcaProtocol, T
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.settings import IcaSettings
from ica_airflow_provider.core.tracker import BatchTracker, Log, Verdict
from ica_airflow_provider.core.wait import Wait, abort_running, finish, finish_needed
from ica_airflow_provider.defaults import DEFAULT_CONN_ID, DEFAULT_PAGE_SIZE
from ica_airflow_provider.exceptions import airflow_facing
from ica_airflow_provider.hooks.clients import USER_AGENT, Follower, SharedConnection, read_settings

if TYPE_CHECKING:
    import requests

    from ica_airflow_provider.core.notification_setup import NotificationSetup
    from ica_airflow_provider.models.outputs import AnalysisOutputList
    from ica_airflow_provider.models.response import (
        Analysis,
        AnalysisCreationBatch,
        AnalysisCreationBatchItem,
    )

__all__ = ["USER_AGENT", "IcaHook"]


class IcaHook(BaseHook):
    """Talks to ICA with the API key of an ``ica`` connection.

    The key is exchanged for a JWT (``POST /api/tokens``) that is reused until shortly
    before it expires. Nothing is read or sent before the first call. Every hook and wait
    of a process that uses the same connection shares one HTTP pool, one JWT and one
    request budget (``hooks/clients.py``).

    :param ica_conn_id: the Airflow connection of type ``ica``.
    """

    conn_name_attr = "ica_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "ica"
    hook_name = "Illumina Connected Analytics"

    def __init__(self, ica_conn_id: str = default_conn_name, retry_policy: RetryPolicy | None = None) -> None:
        super().__init__()
        self.ica_conn_id = ica_conn_id
        self._retry_policy = retry_policy
        # Between retries and polls; None: time.sleep (tests give a manual clock's).
        self.sleep: Callable[[float], None] | None = None

    def __repr__(self) -> str:
        return f"IcaHook(ica_conn_id={self.ica_conn_id!r})"

    # -- connection and transport -----------------------------------------------------

    @cached_property
    def follower(self) -> Follower:
        """This hook's hold on the shared connection (nothing is read before the first use)."""
        return Follower(
            self.ica_conn_id,
            read=lambda: read_settings(self.ica_conn_id, self.get_connection),
            policy=self._retry_policy,
        )

    def _connection(self) -> SharedConnection:
        """The connection's shared state and pool, re-read when due."""
        with airflow_facing():
            return self.follower.connection()

    @property
    def settings(self) -> IcaSettings:
        return self._connection().settings

    @property
    def protocol(self) -> IcaProtocol:
        with airflow_facing():
            return self.follower.protocol

    @property
    def session(self) -> requests.Session:
        """The connection's pooled session, shared in this process."""
        return self._connection().session()

    def run(self, call: Call[T], hints: Hints | None = None) -> T:
        """Drive one of :attr:`protocol`'s generators to its result; its errors are raised to Airflow."""
        with airflow_facing():
            return drive(call, self._send, self.sleep or time.sleep, self.follower, hints)

    def _send(self, request: Request) -> Outcome:
        import requests

        # The connection as of the last Refresh: the request was signed for it.
        shared = self.follower.shared or self._connection()
        settings = shared.settings
        try:
            response = shared.session().request(
                request.method,
                settings.base_url + request.path,
                params=list(request.params),
                headers=dict(request.headers),
                data=request.body,
                timeout=settings.timeout,
                verify=settings.verify,
                # A redirect would carry X-API-Key to another host, or to plain http.
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            return TransportFailure("timeout", type(exc).__name__)
        except (
            requests.exceptions.InvalidHeader,
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ) as exc:
            # The request could not be built; the library's text may quote a header value.
            return TransportFailure("invalid", type(exc).__name__)
        except requests.ConnectionError as exc:
            return TransportFailure("connect", _reason(exc))
        except requests.RequestException as exc:
            return TransportFailure("protocol", _reason(exc))
        return Response.build(response.status_code, response.headers, response.content)

    # -- ICA operations -----------------------------------------------------------------

    def create_analysis_creation_batch(
        self, project_id: str, batch: Mapping[str, Any], idempotency_key: str | None = None
    ) -> AnalysisCreationBatch:
        """Create a batch; with an ``idempotency_key`` a repeat returns the same batch."""
        return self.run(self.protocol.create_analysis_creation_batch(project_id, batch, idempotency_key))

    def get_analysis_creation_batch(self, project_id: str, batch_id: str) -> AnalysisCreationBatch:
        return self.run(self.protocol.get_analysis_creation_batch(project_id, batch_id))

    def get_analysis_creation_batch_item(
        self, project_id: str, batch_id: str, item_id: str
    ) -> AnalysisCreationBatchItem:
        return self.run(self.protocol.get_analysis_creation_batch_item(project_id, batch_id, item_id))

    def iter_analysis_creation_batch_items(
        self,
        project_id: str,
        batch_id: str,
        statuses: Iterable[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[AnalysisCreationBatchItem]:
        """Every item of the batch (optionally only these statuses), page by page."""
        for page_call in self.protocol.item_pages(project_id, batch_id, statuses=statuses, page_size=page_size):
            yield from self.run(page_call).items

    def get_analysis(self, project_id: str, analysis_id: str) -> Analysis:
        return self.run(self.protocol.get_analysis(project_id, analysis_id))

    def abort_analysis(self, project_id: str, analysis_id: str) -> None:
        """Ask ICA to abort; the status changes only once the abort has started."""
        self.run(self.protocol.abort_analysis(project_id, analysis_id))

    def get_analysis_outputs(self, project_id: str, analysis_id: str) -> AnalysisOutputList:
        """What the analysis produced: per output parameter its ``code`` and data (files, folders)."""
        return self.run(self.protocol.get_analysis_outputs(project_id, analysis_id))

    # -- waiting for a batch (the operator and the sensor) -------------------------------

    def poll_batch(self, wait: Wait, log: Log) -> Verdict | None:
        """One poll of ``wait`` (a sensor's poke): its verdict, or ``None`` after a tolerated failure."""
        return self.run(wait.poll(self.protocol, log))

    def wait_for_batch(self, wait: Wait, log: Log, hints: Hints | None = None) -> Verdict | None:
        """Poll until the batch is done (its verdict) or ``wait.deadline`` (``None``), sleeping in between

        (until ``hints`` wake the wait, if given).
        """
        return self.run(wait.until_done(self.protocol, log), hints)

    def finish_batch(self, tracker: BatchTracker, log: Log, *, outputs: bool) -> None:
        """The step that ends a wait: every record (one listing if only some are known), and the outputs."""
        if finish_needed(tracker, outputs=outputs):
            self.run(finish(tracker, self.protocol, log, outputs=outputs))

    def abort_running(self, tracker: BatchTracker, log: Log) -> list[str]:
        """Best effort: abort the batch's running analyses; returns the IDs ICA accepted."""
        return self.run(abort_running(tracker, self.protocol, log))

    def ensure_notifications(
        self, project_id: str, queue_url: str, event_codes: Iterable[str] | None = None
    ) -> NotificationSetup:
        """Subscribe the project to ICA's notifications on an SQS queue; a repeat creates nothing.

        ``event_codes`` default to those a wait needs; the result holds the queue policy statement to add.
        """
        from ica_airflow_provider.core import notification_setup as setup

        codes = setup.WAIT_EVENT_CODES if event_codes is None else tuple(event_codes)
        return self.run(setup.ensure_notifications(self.protocol, project_id, queue_url, codes))

    def test_connection(self) -> tuple[bool, str]:
        """Mint a token with the connection's API key."""
        try:
            self.run(self.protocol.mint_token())
        except IcaError as exc:
            return False, str(exc)
        return True, f"Connected to ICA at {self.settings.base_url}: the API key was accepted."

    # -- connection form (Airflow 2; Airflow 3.2+ reads the provider info) -------------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, StringField

        from ica_airflow_provider.get_provider_info import CONN_FIELDS

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            if "boolean" in spec["schema"]["type"]:
                widgets[name] = BooleanField(lazy_gettext(spec["label"]), description=spec["description"])
            else:
                widgets[name] = StringField(
                    lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), description=spec["description"]
                )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from ica_airflow_provider.get_provider_info import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }


def _reason(exc: Exception) -> str:
    # The exception text can echo the URL, never headers; keep only its first line.
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
