"""Offline replicas of Hanweb jcms county portals, faithful enough to test the crawler against.

    from gongkai_replica import ReplicaServer, build_demo_sites
    with ReplicaServer(build_demo_sites()) as srv:
        srv.listing_urls("xianju")   # column pages to start a crawl from
        srv.requests                 # what the crawler asked for
"""

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer, RequestLogEntry
from gongkai_replica.sites import (
    LAYOUTS,
    ReplicaArticle,
    ReplicaAttachment,
    ReplicaColumn,
    ReplicaSite,
)

__all__ = [
    "LAYOUTS",
    "ReplicaArticle",
    "ReplicaAttachment",
    "ReplicaColumn",
    "ReplicaServer",
    "ReplicaSite",
    "RequestLogEntry",
    "build_demo_sites",
]
