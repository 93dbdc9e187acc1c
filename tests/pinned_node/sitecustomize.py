"""Tests only: the airbox executable pins the node image ``$AIRBOX_TEST_NODE_IMAGE``.

A loopback registry (tests/fake_registry.py) cannot serve kind's real node image under
its real digest (that is the digest of the real manifest), so a test that pulls the node
image from it puts this directory on PYTHONPATH: Python imports ``sitecustomize`` at
start-up, before airbox runs, and the pin becomes one the registry serves. Nothing else
changes (``versions.node_image`` reads the module's names when called).
"""

import os

_PIN = os.environ.get("AIRBOX_TEST_NODE_IMAGE")
if _PIN:
    try:
        from airbox import versions
    except ImportError:  # a Python without airbox (a fake tool's)
        pass
    else:
        versions.NODE_IMAGE = versions.NODE_IMAGE_CGROUP_V1 = _PIN
