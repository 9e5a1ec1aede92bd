"""The homeport integration test bed (see README.md)."""
from .bed import (Bed, BedError, Daemon, Standin, Announcements, build_dir, children, close_all,
                  cleanup_stale, in_netns, missing_requirements, wait_until, PROVIDER_HOSTS)

__all__ = ["Bed", "BedError", "Daemon", "Standin", "Announcements", "build_dir", "children",
           "close_all", "cleanup_stale", "in_netns", "missing_requirements", "wait_until",
           "PROVIDER_HOSTS"]
