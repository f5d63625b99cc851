# Empty compiler generated dependencies file for reccore.
# This may be replaced when dependencies are built.
