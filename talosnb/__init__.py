"""talosnb: inspect, toggle and write back Talos Linux kernel configs and module lists."""

__version__ = "0.1.0"
