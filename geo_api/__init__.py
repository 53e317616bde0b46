"""geo_api: hotspot analysis of knife crime and serious violence in Leicester."""

__version__ = "0.1.0"
