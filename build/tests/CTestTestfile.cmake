# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test(unit.test_qcsign "/work/main/build/tests/test_qcsign")
set_tests_properties(unit.test_qcsign PROPERTIES  TIMEOUT "120" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;11;add_test;/work/main/tests/CMakeLists.txt;0;")
