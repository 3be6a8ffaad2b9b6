"""`python -m kernels`: the kernels command line."""
import sys

from .cli import main

sys.exit(main())
