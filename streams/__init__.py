"""Electronic supervision stream processor (电子监察系统)."""

__version__ = "0.1.0"
