# Code cells of a notebook; the last one trains forever (and would write a marker first).
# %% reference
# %%
open("@@MARKER@@.ran", "w").write("top-level cell ran")
while True:
    pass
