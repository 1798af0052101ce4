"""``python -m ica_airflow_provider.testing``: same as the ``ica-fake-server`` console script."""

import sys

from ica_airflow_provider.testing.server import main

sys.exit(main())
