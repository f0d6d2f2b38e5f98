"""Local emulators of cloud services (GCS, Firestore, ...) for tests and the demo, on 127.0.0.1 only."""
