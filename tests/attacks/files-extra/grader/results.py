# A fake grader module next to the submission: must never be imported.
open("@@MARKER@@.grader", "w").write("imported")
