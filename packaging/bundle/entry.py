"""The bundle's executable: the same ``twinsight`` entry point as the wheel's console script."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from viewer.launcher import main

    sys.exit(main())
