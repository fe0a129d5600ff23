import sys

from coopt.cli.main import main

sys.exit(main())
