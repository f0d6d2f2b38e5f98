import sys

from replica_ledger.ped.cli import main

if __name__ == "__main__":
    sys.exit(main())
