file(REMOVE_RECURSE
  "CMakeFiles/reccore.dir/embedded_lua.c.o"
  "CMakeFiles/reccore.dir/embedded_lua.c.o.d"
  "CMakeFiles/reccore.dir/src/crypto.c.o"
  "CMakeFiles/reccore.dir/src/crypto.c.o.d"
  "CMakeFiles/reccore.dir/src/log.c.o"
  "CMakeFiles/reccore.dir/src/log.c.o.d"
  "CMakeFiles/reccore.dir/src/qcsign.c.o"
  "CMakeFiles/reccore.dir/src/qcsign.c.o.d"
  "CMakeFiles/reccore.dir/src/rerr.c.o"
  "CMakeFiles/reccore.dir/src/rerr.c.o.d"
  "embedded_lua.c"
  "libreccore.a"
  "libreccore.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/reccore.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
