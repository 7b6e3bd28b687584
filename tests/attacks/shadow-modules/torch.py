# Shadows the real torch: if the grader ever imports this file, the marker appears.
open("@@MARKER@@.torch", "w").write("imported")
raise SystemExit("shadow torch imported")
