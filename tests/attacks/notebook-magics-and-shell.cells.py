# Code cells of a notebook (one per "# %%" line); "# %% reference" is a cell holding the
# reference solution. Magics and shell escapes must never run, nor break the module.
# %%
%matplotlib inline
%load_ext autoreload
%autoreload 2
!touch @@MARKER@@.bang
files = !ls /
# %%
%%bash
touch @@MARKER@@.cellmagic
# %% reference
# %%
%%time
def helper_defined_under_time_magic():
    return 1
