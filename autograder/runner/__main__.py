"""`python -m autograder.runner`, as the sandbox starts it: serve the grader until it says bye."""

from autograder.runner.serve import serve

serve()
