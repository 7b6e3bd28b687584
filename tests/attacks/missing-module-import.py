# An import of a package that the autograder does not have.
import tensorflow_addons_not_installed  # noqa: F401
