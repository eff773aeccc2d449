import sys

from .launch import main

main(sys.argv[1:])
