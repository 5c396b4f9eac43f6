"""One backbone per module; multiscale.py wraps any of them in a Gaussian pyramid."""
