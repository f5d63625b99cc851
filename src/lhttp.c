/* lhttp: rec.http: a plain HTTP request from a script (a webhook, a chat API) through http.c,
 * its reply as {status, body, headers, json}; the task waits without blocking the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "engine.h"
#include "http.h"
#include "lnorm.h"
#include "lrec_int.h"
#include "rerr.h"

typedef struct http_op {
  pending_t base;
  http_req_t *req;
  task_t *t;
} http_op;

static void http_op_cancel(pending_t *p) {
  http_op *op = (http_op *)p;
  http_cancel(op->req);
  free(op);
}

static void push_headers(lua_State *L, const char *h, size_t len) {
  const char *end = h + len, *line = h;
  lua_newtable(L);
  while (line < end) {
    const char *eol = memchr(line, '\n', (size_t)(end - line)), *colon;
    if (!eol) eol = end;
    colon = memchr(line, ':', (size_t)(eol - line));
    if (colon && strncmp(line, "HTTP/", 5) != 0) {
      const char *v = colon + 1, *ve = eol;
      luaL_Buffer b;
      const char *p;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
      luaL_buffinit(L, &b);
      for (p = line; p < colon; p++)
        luaL_addchar(&b, (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p);
      luaL_pushresult(&b);
      lua_pushlstring(L, v, (size_t)(ve - v));
      lua_settable(L, -3);
    }
    line = eol + 1;
  }
}

static void on_http_done(void *ud, const http_response *res, const rec_err *err) {
  http_op *op = ud;
  task_t *t = op->t;
  lua_State *co = task_thread(t);
  engine_detach(t, &op->base);
  free(op);
  lua_checkstack(co, 8);
  if (err) {
    rec_err e2 = *err;
    e2.attempts = 1;
    lua_pushnil(co);
    engine_push_err(co, &e2);
    engine_complete(t, 2);
    return;
  }
  lua_createtable(co, 0, 4);
  lua_pushinteger(co, res->status);
  lua_setfield(co, -2, "status");
  lua_pushlstring(co, res->body, res->body_len);
  lua_setfield(co, -2, "body");
  push_headers(co, res->headers, res->headers_len);
  lua_getfield(co, -1, "content-type");
  if (lua_isstring(co, -1) && strstr(lua_tostring(co, -1), "json") && res->body_len > 0) {
    lua_pop(co, 1);
    if (lnorm_decode(co, res->body, res->body_len)) lua_setfield(co, -3, "json");
  } else {
    lua_pop(co, 1);
  }
  lua_setfield(co, -2, "headers");
  engine_complete(t, 1);
}

static int l_http(lua_State *L) {
  task_t *t = engine_check_wait(L, "rec.http");
  http_request r;
  rec_err err;
  const char *hdrs[HTTP_MAX_HEADERS + 2];
  size_t nh = 0, blen = 0, len;
  double v = 0;
  int rc;
  http_op *op;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&r, 0, sizeof r);
  r.url = lrec_opt_string_field(L, 1, "url", "rec.http");
  r.method = lrec_opt_string_field(L, 1, "method", "rec.http");
  if (!r.url) {
    rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.http: 'url' is required");
    return engine_return_err(L, &err);
  }
  /* CR, LF, NUL and the like never become protocol syntax: checked with their Lua lengths */
  lua_getfield(L, 1, "url");
  lua_tolstring(L, -1, &len);
  if (http_check_url(r.url, len, &err) != 0) goto bad_arg;
  lua_getfield(L, 1, "method");
  if (r.method && (lua_tolstring(L, -1, &len), http_check_method(r.method, len, &err) != 0))
    goto bad_arg;
  lua_pop(L, 2);
  /* a wrong type is refused like a wrong value: never silently the default */
  if ((rc = lrec_opt_number_field(L, 1, "timeout", &v)) != 0) {
    if (rc < 0 || !(v > 0)) {
      rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0,
                  "rec.http: 'timeout' must be a number of seconds > 0");
      return engine_return_err(L, &err);
    }
    r.timeout = v;
  }
  if ((rc = lrec_opt_number_field(L, 1, "max_reply", &v)) != 0) {
    if (rc < 0 || !(v >= 1 && v <= REC_MAX_REPLY_LIMIT)) {  /* NaN, math.huge, 1e300: never cast */
      rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.http: 'max_reply' must be 1..%.0f bytes",
                  REC_MAX_REPLY_LIMIT);
      return engine_return_err(L, &err);
    }
    r.max_reply = (size_t)v;
  }
  if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
    /* each line is a Lua string in a table on the stack while the request is built */
    int lines = lua_gettop(L) + 1;
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
      const char *name, *val;
      size_t nlen, vlen;
      if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1)) {
        rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0,
                    "rec.http: headers must map names (strings) to strings or numbers");
        goto bad_arg;
      }
      if (nh >= HTTP_MAX_HEADERS) {
        rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.http: more than %d headers",
                    HTTP_MAX_HEADERS);
        goto bad_arg;
      }
      name = lua_tolstring(L, -2, &nlen);
      val = lua_tolstring(L, -1, &vlen);  /* the value only: the key stays a string */
      if (http_check_header(name, nlen, val, vlen, &err) != 0) {
        char m[sizeof err.message];
        snprintf(m, sizeof m, "rec.http: %.480s", err.message);
        rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "%s", m);
        goto bad_arg;
      }
      hdrs[nh++] = lua_pushfstring(L, "%s: %s", name, val);
      lua_rawseti(L, lines, (lua_Integer)nh);
      lua_pop(L, 1);
    }
    lua_remove(L, -2);  /* the lines stay referenced from the stack, the headers table goes */
  }
  if (lua_getfield(L, 1, "json") != LUA_TNIL) {  /* body = json encoded; stays on the stack */
    lua_getfield(L, LUA_REGISTRYINDEX, "rec.json.encode");
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.http: cannot encode 'json': %s", lua_tostring(L, -1));
      return engine_return_err(L, &err);
    }
    r.body = lua_tolstring(L, -1, &blen);
    hdrs[nh++] = "Content-Type: application/json";
    if (!r.method) r.method = "POST";
  } else if (lua_getfield(L, 1, "body"), lua_isstring(L, -1)) {
    r.body = lua_tolstring(L, -1, &blen);
    if (!r.method) r.method = "POST";
  }
  r.body_len = blen;
  hdrs[nh] = NULL;
  r.headers = hdrs;
  if (task_cancelled(t)) return engine_yield_now(t, engine_push_cancelled(L, "rec.http"));
  op = calloc(1, sizeof *op);
  if (!op) return luaL_error(L, "out of memory");
  op->base.cancel = http_op_cancel;
  op->t = t;
  op->req = http_send(engine_http(task_engine(t)), &r, on_http_done, op, &err);
  if (!op->req) {
    free(op);
    err.attempts = 1;
    return engine_return_err(L, &err);
  }
  engine_wait(t, &op->base, "rec.http");
  return engine_suspend(t);
bad_arg:
  err.attempts = 0;
  return engine_return_err(L, &err);
}

void lhttp_open(lua_State *L) {
  lua_pushcfunction(L, l_http);
  lua_setfield(L, -2, "http");
}
