import sys

from ali_bench.cli import main

sys.exit(main())
