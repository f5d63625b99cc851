file(REMOVE_RECURSE
  "CMakeFiles/test_qcsign.dir/unit/test_qcsign.c.o"
  "CMakeFiles/test_qcsign.dir/unit/test_qcsign.c.o.d"
  "test_qcsign"
  "test_qcsign.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_qcsign.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
