"""``[core] hostname_callable`` of the distributed deployment: one host name per component.

All components share this machine, so the real host name cannot tell them apart. With this,
a task instance's ``hostname`` names the Celery worker that ran it and a ``TriggererJob``'s
``hostname`` names the triggerer process, as separate machines would.
"""

from __future__ import annotations

import os
import socket

COMPONENT_VARIABLE = "ICA_E2E_COMPONENT"


def component_hostname() -> str:
    """``worker-1.<fqdn>`` in the process started as ``worker-1``; the fqdn elsewhere."""
    fqdn = socket.getfqdn()
    component = os.environ.get(COMPONENT_VARIABLE)
    return f"{component}.{fqdn}" if component else fqdn


def component_of(hostname: str | None) -> str | None:
    """The component name a ``component_hostname()`` starts with, if any."""
    if not hostname or "." not in hostname:
        return None
    return hostname.split(".", 1)[0]
