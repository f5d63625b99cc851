# Empty dependencies file for recwatch.
# This may be replaced when dependencies are built.
