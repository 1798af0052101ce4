"""Apache Airflow provider for Illumina Connected Analytics (ICA) analysis creation batches."""

__version__ = "0.1.0"
