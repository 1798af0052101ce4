"""The `make e2e` deployment: process management, PostgreSQL, Airflow REST client, checks."""
