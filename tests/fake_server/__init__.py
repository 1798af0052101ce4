"""Tests of the fake ICA server (``ica_airflow_provider.testing``) over real HTTP."""
