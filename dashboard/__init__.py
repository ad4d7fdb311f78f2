"""The dashboard's pure functions: state and URL, figures, table, summaries.

Nothing here fetches data, reads the clock or imports Dash: callbacks gather the inputs (from the
service) and pass them in; the results are plain dicts and strings that tests can inspect.
"""
