open("@@MARKER@@.conftest", "w").write("imported")
