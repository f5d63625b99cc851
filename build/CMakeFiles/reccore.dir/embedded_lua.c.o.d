CMakeFiles/reccore.dir/embedded_lua.c.o: /work/main/build/embedded_lua.c \
 /usr/include/stdc-predef.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h
