# Shadows the real sitecustomize: if the grader ever imports this file, the marker appears.
open("@@MARKER@@.sitecustomize", "w").write("imported")
raise SystemExit("shadow sitecustomize imported")
