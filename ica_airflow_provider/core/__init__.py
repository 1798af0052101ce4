"""Sans-IO core: everything that knows ICA, none of it touching the network.

Requests, retries, tokens and cursor paging (:mod:`.protocol`), following a batch
(:mod:`.tracker`) and the wait around it (:mod:`.wait`) are generators that yield
:class:`~.messages.Send` or :class:`~.messages.Sleep` actions and receive the outcome of
each ``Send``. The sync hook and the async client (``hooks/``) are their two drivers.
"""
