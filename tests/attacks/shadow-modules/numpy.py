# Shadows the real numpy: if the grader ever imports this file, the marker appears.
open("@@MARKER@@.numpy", "w").write("imported")
raise SystemExit("shadow numpy imported")
