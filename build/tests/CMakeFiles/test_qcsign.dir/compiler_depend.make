# Empty compiler generated dependencies file for test_qcsign.
# This may be replaced when dependencies are built.
