"""The dashboard's callbacks, registered on one app instance: ``register(app, service)``.

Server callbacks are thin adapters (read inputs, call a pure function from ``dashboard``,
return); what needs no server (showing a view, slider labels, pausing the refresh) runs in the
browser from the ``heatmap`` namespace of ``assets/dashboard.js``.
"""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output

from callbacks import delivery, panels, url_state, views
from heatmap_engine.service import HeatmapService
from layouts import ids

__all__ = ["delivery", "register"]

CLIENTSIDE_NAMESPACE = "heatmap"


def _clientside(app: Dash) -> None:
    def js(name: str) -> ClientsideFunction:
        return ClientsideFunction(namespace=CLIENTSIDE_NAMESPACE, function_name=name)

    app.clientside_callback(
        js("pauseRefresh"), Output(ids.REFRESH, "disabled"), Input(ids.AUTO_REFRESH, "value")
    )
    app.clientside_callback(js("showView"), Output(ids.APP, "className"), Input(ids.VIEW, "value"))
    app.clientside_callback(
        js("strengthLabel"),
        Output(ids.MIN_STRENGTH_LABEL, "children"),
        Input(ids.MIN_STRENGTH, "drag_value"),
        Input(ids.MIN_STRENGTH, "value"),
    )
    app.clientside_callback(
        js("thresholdLabel"),
        Output(ids.THRESHOLD_LABEL, "children"),
        Input(ids.THRESHOLD, "drag_value"),
        Input(ids.THRESHOLD, "value"),
    )
    app.clientside_callback(
        js("distanceLabel"),
        Output(ids.MAX_DISTANCE_LABEL, "children"),
        Input(ids.MAX_DISTANCE, "drag_value"),
        Input(ids.MAX_DISTANCE, "value"),
    )


def register(app: Dash, service: HeatmapService) -> None:
    url_state.register(app, service)
    views.register(app, service)
    panels.register(app, service)
    _clientside(app)
