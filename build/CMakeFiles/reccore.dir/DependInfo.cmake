
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/build/embedded_lua.c" "CMakeFiles/reccore.dir/embedded_lua.c.o" "gcc" "CMakeFiles/reccore.dir/embedded_lua.c.o.d"
  "/work/main/src/crypto.c" "CMakeFiles/reccore.dir/src/crypto.c.o" "gcc" "CMakeFiles/reccore.dir/src/crypto.c.o.d"
  "/work/main/src/log.c" "CMakeFiles/reccore.dir/src/log.c.o" "gcc" "CMakeFiles/reccore.dir/src/log.c.o.d"
  "/work/main/src/qcsign.c" "CMakeFiles/reccore.dir/src/qcsign.c.o" "gcc" "CMakeFiles/reccore.dir/src/qcsign.c.o.d"
  "/work/main/src/rerr.c" "CMakeFiles/reccore.dir/src/rerr.c.o" "gcc" "CMakeFiles/reccore.dir/src/rerr.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
