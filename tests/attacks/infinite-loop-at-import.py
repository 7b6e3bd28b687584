# A training loop left at the top level of the module: importing it never finishes.
while True:
    pass
