"""gunicorn reads this file from the working directory by default (``-c`` names another).

Access lines only with ``HEATMAP_ACCESS_LOG=1`` (see README, Configuration): a dashboard tab
polls every 5 seconds, which would otherwise fill the log.
"""

from heatmap_engine.config import Settings

accesslog = "-" if Settings.from_env().access_log else None
