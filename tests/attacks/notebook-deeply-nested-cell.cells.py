# %% reference
# %%
# one expression nested far beyond what the parser accepts
value = @@NESTED@@
