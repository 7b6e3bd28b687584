# Shadows the real usercustomize: if the grader ever imports this file, the marker appears.
open("@@MARKER@@.usercustomize", "w").write("imported")
raise SystemExit("shadow usercustomize imported")
