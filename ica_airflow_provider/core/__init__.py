"""Sans-IO core: everything that knows ICA, none of it touching the network.

The sync hook and the async trigger are two drivers of the generators defined here
(:mod:`.protocol`): each generator yields :class:`~.http.Send` or :class:`~.http.Sleep`
actions and receives the outcome of each ``Send``.
"""
