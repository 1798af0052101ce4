"""Deployment tooling (not part of the installed package): `make e2e` and manual scripts."""
