"""The package's version, here below every module that records it; ``preflight.__version__`` hands it on."""

__version__ = "0.1.0"
