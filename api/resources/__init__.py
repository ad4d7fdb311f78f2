"""One module per resource a client asks for: its routes, parameter models and response shaping."""
