file(REMOVE_RECURSE
  "CMakeFiles/recwatch.dir/src/main.c.o"
  "CMakeFiles/recwatch.dir/src/main.c.o.d"
  "recwatch"
  "recwatch.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/recwatch.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
