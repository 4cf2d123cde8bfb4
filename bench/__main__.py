"""`python -m bench`: the whole benchmark suite (bench/suite.py; `make bench`)."""

from bench.suite import main

main()
