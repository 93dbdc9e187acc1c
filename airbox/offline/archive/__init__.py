"""The offline bundle's archive: create it on a connected machine, verify it, unpack it.

One plain POSIX tar (GNU headers), uncompressed: image layers are compressed already, and
gzip over a bundle of a few hundred megabytes would make every step CPU-bound. Members,
in order: ``manifest.json``, then each item the manifest lists, in its order. Every
member is written and read as a stream, never whole in memory, its SHA-256 computed on
the way.

Every byte of the file is accounted for when it is read: each tar header must be exactly
the header airbox writes for its item (name, size, mode, checksum field), each member's
bytes must have the manifest's size and digest, the padding after a member and the end
of the archive must be zeros, and the manifest carries its own digest. So a flipped byte
anywhere is found, and the error names the item it hit.

``create`` writes the manifest's room first and fills it in last: the manifest is the
first member, yet the digests it lists are known only once every member is written. A
member's size (a ``docker save`` stream) is known only at its end, so its header is
written after its bytes, in the place kept for it. The archive is written under a
temporary name and renamed once complete: an interrupted create leaves no
usable-looking file.

The format (headers, constants, the damage error) is ``tarformat``'s; reading and
verifying is ``reading``'s; unpacking ``unpacking``'s; creating ``writing``'s.
"""

from __future__ import annotations

from airbox.offline.archive.reading import read_manifest, verify
from airbox.offline.archive.tarformat import BundleDamaged, host_platform, human_size, label
from airbox.offline.archive.unpacking import Unpacked, unpack
from airbox.offline.archive.writing import chart_meta, create, default_connectors, default_images

__all__ = [
    "BundleDamaged",
    "Unpacked",
    "chart_meta",
    "create",
    "default_connectors",
    "default_images",
    "host_platform",
    "human_size",
    "label",
    "read_manifest",
    "unpack",
    "verify",
]
