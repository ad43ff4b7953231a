import sys

from liquidcontrol.cli import main

sys.exit(main())
