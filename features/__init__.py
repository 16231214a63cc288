"""Point-in-time feature building and the pandera schemas (pure, no I/O)."""

import warnings

# pandera and MLflow import pyspark when the [spark] extra is installed; its import-time
# warning about pandas 3 is not about anything leadscore does (the Spark engine is tested)
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)
