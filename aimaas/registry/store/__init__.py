"""The artifact store under the data directory: every artifact and uploaded file.

Callers name the bytes by their sha256 digest and say who owns them (an ``Owner``: a model
version, an uploaded file, an evaluation report), through one interface,
``ArtifactStore`` (``interface.py``): ``put``, ``read``, ``open`` (a ``LocalFile``),
``copy``, ``size``, ``exists``, ``delete``, ``staging()``. Two stores implement it:

- ``PlainStore`` (``plain.py``), without a master key: content-addressed plaintext.
- ``SealedStore`` (``sealed.py``), with one: sealed per owner with AES-256-GCM under a
  data key of its own, wrapped by the master key in a ``data_keys`` row.

``open_store`` picks the one the settings describe. ``layout.py`` says where the files
live and how they are written durably; ``rotation.py`` re-wraps the data keys under a new
master key; ``references.py`` lists what the registry names and ``sealing.py`` seals what
was stored before the master key was set (``aimaas security seal-existing``, ``status``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimaas import crypto
from aimaas.registry.store.interface import ArtifactStore, Data, LocalFile, Owner
from aimaas.registry.store.plain import PlainStore
from aimaas.registry.store.sealed import SealedStore

if TYPE_CHECKING:
    from aimaas.config import Settings
    from aimaas.registry.db import Database

__all__ = [
    "ArtifactStore",
    "Data",
    "LocalFile",
    "Owner",
    "PlainStore",
    "SealedStore",
    "open_store",
]


def open_store(settings: Settings, db: Database) -> ArtifactStore:
    """The store the settings describe: sealing when a master key is configured."""
    root = settings.storage.artifacts_dir
    master_key = crypto.load_master_key(settings.security)
    if master_key is None:
        return PlainStore(root, db=db)
    return SealedStore(root, db=db, master_key=master_key)
