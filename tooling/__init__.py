"""Development tooling of replica-ledger: generators, fakes and emulators for tests, benchmarks
and the local Airflow. Never shipped to Composer, and never imported by include/replica_ledger/."""
