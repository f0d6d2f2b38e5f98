"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tooling.emulators import firestore, gcs

# ----------------------------------------------------------------------------- GCS and Firestore emulators


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gcs.GcsEmulator]:
    """One fake-gcs-server (in-memory) for the session; tests that need it empty use `empty_gcs`."""
    emulator = gcs.start(log_path=tmp_path_factory.mktemp("gcs_emulator") / "fake-gcs-server.log")
    yield emulator
    emulator.stop()


@pytest.fixture
def empty_gcs(gcs_emulator: gcs.GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> gcs.GcsEmulator:
    """The session's fake-gcs-server with no bucket, and STORAGE_EMULATOR_HOST pointing at it.

    google-cloud-storage's Client() (as the product builds it) then talks to the emulator
    with anonymous credentials; `empty_gcs.client()` does so whatever the environment says.
    """
    gcs_emulator.reset()
    for name, value in gcs_emulator.env().items():
        monkeypatch.setenv(name, value)
    return gcs_emulator


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[firestore.FirestoreEmulator]:
    """One Firestore emulator for the session (its JVM takes seconds to start)."""
    emulator = firestore.start(log_path=tmp_path_factory.mktemp("firestore_emulator") / "firestore.log")
    yield emulator
    emulator.stop()


@pytest.fixture
def empty_firestore(
    firestore_emulator: firestore.FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[firestore.FirestoreEmulator]:
    """The session's Firestore emulator, FIRESTORE_EMULATOR_HOST set.

    Seed documents with `empty_firestore.put_document(project, "collection/id", {...})`;
    every project written that way is emptied after the test.
    """
    for name, value in firestore_emulator.env().items():
        monkeypatch.setenv(name, value)
    yield firestore_emulator
    firestore_emulator.reset()
