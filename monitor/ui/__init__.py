"""The Textual terminal UI: app, screens, widgets and chart renderers."""
