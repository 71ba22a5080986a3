import sys

from proceval.cli.main import main

sys.exit(main())
