/* startup_floor: the start-up floor. A C program that does nothing but is linked against
 * the same libraries as recwatch (Lua, lua-cjson, libuv, libcurl, libcrypto, SQLite,
 * http_parser): the dynamic loader's work, which any program using them pays. Each library
 * is referenced, so --as-needed keeps it.
 * Build: see bench/run (cc -O2 ... -Wl,--no-as-needed with the libraries above). */
#include <stdio.h>
#include <curl/curl.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <uv.h>

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 99) {  /* never true: references that keep every library linked */
    printf("%p %p %p %p %p\n", (void *)curl_version, (void *)lua_newstate,
           (void *)OPENSSL_cleanse, (void *)sqlite3_libversion, (void *)uv_version);
  }
  return 0;
}
