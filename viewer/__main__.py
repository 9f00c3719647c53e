import sys

from viewer.launcher import main

sys.exit(main())
