"""Sans-IO core: everything that knows ICA, none of it touching the network or Airflow.

Requests, retries, tokens and cursor paging (:mod:`.protocol`), following a batch
(:mod:`.tracker`) and the wait around it (:mod:`.wait`) are generators that yield the
actions of :data:`~.messages.Action` and receive the outcome of each ``Send``. The sync
hook and the async client (``hooks/``) drive them with :mod:`.drive`. Importing the core
loads no Airflow module (``tests/unit/test_layers.py`` checks it).
"""
