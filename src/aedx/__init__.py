"""aedx — 行政執行資料交換平台, the administrative enforcement data exchange platform."""

__version__ = "0.1.0"
