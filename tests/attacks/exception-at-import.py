# Top-level code that fails when the module is imported.
_data = {}["cifar10"]
