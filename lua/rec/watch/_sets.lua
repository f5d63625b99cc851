-- rec.watch._sets (internal): watch.set, the sessions to watch learnt from a file (re-read
-- when it changes: rec.fs.watch, libuv's uv_fs_event), from a URL (polled every `every`
-- seconds, with If-None-Match when the server sends an ETag), and added or removed at run
-- time. Each session is an ordinary watch.agora or watch.qingcloud watcher; the set starts,
-- stops and restarts them as the list changes. A bad read keeps the last good set and says
-- so loudly: a log line (kind=watch_set_error), recwatch_watch_set_errors_total{source,reason}
-- and a failing /healthz until a good read. docs/workflows.md, "Learning which sessions to
-- watch", is the user's side of it.
local rec = rec or require "rec"
local opts = require "rec._opts"

local M = {}

local SET_KEYS = { "file", "url", "every", "provider", "defaults", "name", "on_change",
                   "on_error", "headers", "timeout", "settle", "max_bytes" }

-- What an entry of the file or the URL's list may hold, per provider: the plain fields that
-- watch.agora / watch.qingcloud take (functions, db and outbox come from `defaults`), and
-- `key`. kind: "s" a string, "id" a string or an integer, "n" a number >= 0, "l" a list of
-- numbers >= 0.
local FIELDS = {
  agora = { appid = "s", resourceid = "s", sid = "s", mode = "s", every = "n", first_after = "n",
            start_every = "n", start_timeout = "n", ha_window = "n", confirm_delays = "l",
            started_at = "n", name = "s", stale_after = "n", fail_polls = "n", auth_retry = "n",
            key = "s" },
  qingcloud = { app_id = "id", channel = "id", every = "n", from_hour = "n", to_hour = "n",
                repair_timeout = "n", name = "s", stale_after = "n", fail_polls = "n",
                auth_retry = "n", key = "s" },
}
local REQUIRED = { agora = { "appid", "resourceid", "sid" }, qingcloud = { "app_id", "channel" } }
local MAX_BYTES = 16 * 1024 * 1024
local names = {}   -- the sets running in this Lua state, by name
local MAX_KEY = 128

local function ctor(provider)
  local w = require("rec.watch._" .. provider)
  return w[provider]
end

-- A typed error, like the runtime's.
local function err(kind, msg)
  return setmetatable({ kind = kind, message = msg },
                      { __tostring = function(x) return x.kind .. ": " .. x.message end })
end

-- The entry's key: `key`, else the sid (agora) or app_id/channel (qingcloud).
local function key_of(provider, e)
  if e.key ~= nil then return e.key end
  if provider == "agora" then return e.sid end
  return tostring(e.app_id) .. "/" .. tostring(e.channel)
end

-- Checks one entry: nil when good, else why (one line; names the field, never its value).
local function check_entry(provider, e)
  if type(e) ~= "table" or e == rec.json.null then return "is not an object" end
  local fields = FIELDS[provider]
  for k, v in pairs(e) do
    local kind = type(k) == "string" and fields[k]
    if not kind then
      local hint = type(k) == "string" and opts.suggest(k, (function()
        local l = {}
        for f in pairs(fields) do l[#l + 1] = f end
        return l
      end)())
      return ("has an unknown field '%s'%s"):format(type(k) == "string" and k:sub(1, 64) or "?",
                                                    hint and (" (did you mean '" .. hint .. "'?)") or "")
    end
    if kind == "s" and (type(v) ~= "string" or #v == 0 or #v > 1024) then
      return ("'%s' must be a non-empty string"):format(k)
    elseif kind == "id" and not (math.type(v) == "integer" or
                                 (type(v) == "string" and #v > 0 and #v <= 128 and not v:find("[%c/]"))) then
      return ("'%s' must be an integer or a plain id (1..128 bytes, no '/')"):format(k)
    elseif kind == "n" and (type(v) ~= "number" or v ~= v or v < 0 or v == math.huge) then
      return ("'%s' must be a number >= 0"):format(k)
    elseif kind == "l" then
      if type(v) ~= "table" or v == rec.json.null then return ("'%s' must be a list of seconds"):format(k) end
      for i, d in ipairs(v) do
        if type(d) ~= "number" or d ~= d or d < 0 or d == math.huge then
          return ("'%s'[%d] must be a number >= 0"):format(k, i)
        end
      end
    end
  end
  for _, k in ipairs(REQUIRED[provider]) do
    if e[k] == nil then return ("lacks '%s'"):format(k) end
  end
  local key = key_of(provider, e)
  if #key > MAX_KEY or key:find("%c") then return "has a key over 128 bytes or with control bytes" end
  return nil
end

-- One canonical text per entry (sorted keys): an entry whose text changed is restarted.
local function sig_of(e)
  local ks = {}
  for k in pairs(e) do ks[#ks + 1] = k end
  table.sort(ks)
  local parts = {}
  for _, k in ipairs(ks) do parts[#parts + 1] = k .. "=" .. (rec.json.encode(e[k]) or "?") end
  return table.concat(parts, "\1")
end

-- The document: a JSON list of entries, or { "sessions": [...] }, where an empty list must
-- say so: { "sessions": [], "empty": true }. Returns the list of { key, entry, sig }, or nil,
-- reason, message.
local function parse(provider, text)
  local doc, derr = rec.json.decode(text)
  if doc == nil then return nil, "not_json", "not JSON: " .. tostring(derr) end
  local list, empty_ok
  if type(doc) ~= "table" or doc == rec.json.null then
    return nil, "shape", "the document is not a list of sessions nor an object with 'sessions'"
  end
  if doc.sessions ~= nil then
    for k in pairs(doc) do
      if k ~= "sessions" and k ~= "empty" then
        return nil, "shape", ("unknown top-level field '%s' (only 'sessions' and 'empty')"):format(tostring(k):sub(1, 64))
      end
    end
    if doc.empty ~= nil and type(doc.empty) ~= "boolean" then
      return nil, "shape", "'empty' must be true or false"
    end
    list, empty_ok = doc.sessions, doc.empty == true
    if type(list) ~= "table" or list == rec.json.null then
      return nil, "shape", "'sessions' is not a list"
    end
  else
    list = doc
  end
  local n = 0
  for k in pairs(list) do
    if math.type(k) ~= "integer" then return nil, "shape", "the sessions are not a list" end
    n = n + 1
  end
  if n ~= #list then return nil, "shape", "the sessions are not a list" end
  if n == 0 and not empty_ok then
    return nil, "empty", 'an empty list; to watch nothing on purpose, write {"sessions": [], "empty": true}'
  end
  if n > 0 and empty_ok then
    return nil, "shape", "'empty' is true but the list holds sessions"
  end
  local out, seen = {}, {}
  for i, e in ipairs(list) do
    local why = check_entry(provider, e)
    if why then return nil, "entry", ("session %d %s"):format(i, why) end
    local key = key_of(provider, e)
    if seen[key] then
      return nil, "duplicate", ("sessions %d and %d have the same key '%s'"):format(seen[key], i, key)
    end
    seen[key] = i
    out[#out + 1] = { key = key, entry = e, sig = sig_of(e) }
  end
  return out
end

-- The URL without what may carry a secret (userinfo, query, fragment): for names and logs.
local function show_url(u)
  local scheme, rest = u:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return "url" end
  rest = rest:gsub("[?#].*$", "")
  rest = rest:gsub("^[^/]*@", "")
  return scheme .. "://" .. rest
end

------------------------------------------------------------------------------ the set

local Set = {}
Set.__index = Set

local function count(s)
  local n = 0
  for _ in pairs(s.live) do n = n + 1 end
  return n
end

local function publish_size(s) rec.fs._set_size(s.name, count(s)) end

local function note_error()
  local f = debug and debug.getregistry and debug.getregistry()["rec.note_error"]
  if f then f() end
end

local function callback(s, what, fn, ...)
  if not fn then return end
  local ok, e = xpcall(fn, debug.traceback, ...)
  if not ok then
    rec.log.error("kind=callback_error set=%s: %s callback failed: %s", s.name, what, tostring(e))
    note_error()
  end
end

-- A read refused: counted, logged, /healthz fails with the reason; the set is untouched.
local function refuse(s, reason, msg)
  s.errors = s.errors + 1
  s.errors_by_reason[reason] = (s.errors_by_reason[reason] or 0) + 1
  s.last_error, s.last_reason, s.bad = msg, reason, true
  rec.fs._set_error(s.name, reason)
  rec.log.error("kind=watch_set_error set=%s source=%s reason=%s: %s; keeping the last good set (%d sessions)",
                s.name, s.kind, reason, msg, count(s), { set = s.name, reason = reason })
  rec.health.report(s.hkey, { provider = "watch_set", ok = false, state = "stale", stale = true,
                              error = ("watch set %s refused (%s): %s"):format(s.name, reason, msg),
                              stale_after = s.stale_after })
  callback(s, "on_error", s.o.on_error, err(reason, msg))
end

local function accepted(s)
  s.good_reads = s.good_reads + 1
  s.last_good = rec.time()
  if s.bad then
    rec.log.info("kind=watch_set_recovered set=%s: read again (%d sessions)", s.name, count(s),
                 { set = s.name })
  end
  s.bad, s.last_reason = false, nil
  rec.health.report(s.hkey, { provider = "watch_set", ok = true, state = "ok", stale = false,
                              stale_after = s.stale_after, next_poll = s.next_read })
end

local start

-- Stops the session's watcher; it is gone once its loops ended (a poll in flight finishes and
-- commits its transition first: Handle:stop/wait). A start of the same key queued meanwhile
-- runs then.
local function stop(s, key, why)
  local e = s.live[key]
  if not e then return false end
  s.live[key] = nil
  e.h:stop()
  s.stopping[key] = e
  rec.spawn(function()
    e.h:wait()
    if s.stopping[key] == e then s.stopping[key] = nil end
    rec.log.info("kind=watch_set_removed set=%s session=%s: no longer watched (%s)", s.name, key, why,
                 { set = s.name })
    local q = s.queued[key]
    if q then
      s.queued[key] = nil
      s.live[key] = nil
      local ok, why2 = start(s, key, q.entry, q.origin, q.sig)
      if not ok and not s.stopped then refuse(s, "refused", ("the watcher refused %s: %s"):format(key, why2)) end
      publish_size(s)
    end
  end)
  return true
end

-- Starts the session's watcher with the set's defaults under the entry's fields. Returns
-- true, or nil and the watcher's refusal.
function start(s, key, entry, origin, sig)
  if s.stopped then return nil, "the set is stopped" end
  if s.stopping[key] then  -- the same key still winding down: starts once it has ended
    s.queued[key] = { entry = entry, origin = origin, sig = sig }
    s.live[key] = { pending = true, entry = entry, origin = origin, sig = sig }
    return true
  end
  local o = {}
  for k, v in pairs(s.defaults) do o[k] = v end
  for k, v in pairs(entry) do if k ~= "key" then o[k] = v end end
  if o.name == nil then o.name = s.name .. "/" .. key end
  local ok, h = pcall(s.ctor, o)
  if not ok then return nil, tostring(h) end
  s.live[key] = { h = h, entry = entry, origin = origin, sig = sig }
  return true
end

-- A queued start that has not run yet has no handle to stop: dropping it is enough.
local function drop(s, key, why)
  local e = s.live[key]
  if e and e.pending then
    s.live[key], s.queued[key] = nil, nil
    return true
  end
  return stop(s, key, why)
end

-- The good list of the source: what changed against the running set is applied.
local function apply(s, list)
  local want, added, removed, changed, refused = {}, {}, {}, {}, {}
  for _, it in ipairs(list) do want[it.key] = it end
  local keys = {}
  for key, e in pairs(s.live) do if e.origin == "source" and not want[key] then keys[#keys + 1] = key end end
  table.sort(keys)
  for _, key in ipairs(keys) do
    drop(s, key, "gone from the source")
    removed[#removed + 1] = key
  end
  for _, it in ipairs(list) do
    local e = s.live[it.key]
    if not e or e.sig ~= it.sig then
      if e then drop(s, it.key, "changed in the source") end
      local ok, why = start(s, it.key, it.entry, "source", it.sig)
      if ok then
        local l = e and changed or added
        l[#l + 1] = it.key
      else
        refused[#refused + 1] = ("%s: %s"):format(it.key, why)
      end
    elseif e.origin ~= "source" then
      e.origin = "source"   -- added at run time, now listed: the source owns it
    end
  end
  publish_size(s)
  if #added + #removed + #changed > 0 then
    rec.log.info("kind=watch_set_changed set=%s: %d sessions (+%d -%d ~%d)", s.name, count(s),
                 #added, #removed, #changed, { set = s.name })
  end
  if #refused > 0 then
    refuse(s, "refused", ("the watcher refused %d session(s): %s"):format(#refused, table.concat(refused, "; ")))
  else
    accepted(s)
  end
  if #added + #removed + #changed > 0 then
    callback(s, "on_change", s.o.on_change, s, { added = added, removed = removed, changed = changed })
  end
end

local function take(s, text)
  if #text > s.max_bytes then
    return refuse(s, "too_large", ("%d bytes, over the cap of %d"):format(#text, s.max_bytes))
  end
  local list, reason, msg = parse(s.provider, text)
  if not list then return refuse(s, reason, msg) end
  s.reads = s.reads + 1
  apply(s, list)
end

-- A file read again with what it held last time (events come in bursts: an editor's steps,
-- a rename) is not news: neither re-applied nor counted again.
local function read_file(s)
  local f, msg, code = io.open(s.file, "rb")
  local text, rerr
  if f then
    text, rerr = f:read(s.max_bytes + 1)
    f:close()
    text = text or (not rerr and "" or nil)
  end
  local seen = text or ("\0" .. tostring(code) .. tostring(msg or rerr))
  if seen == s.last_seen then return end
  s.last_seen = seen
  if not f then return refuse(s, code == 2 and "missing" or "unreadable", tostring(msg)) end
  if not text then return refuse(s, "unreadable", tostring(rerr)) end
  take(s, text)
end

local function file_loop(s)
  local fw, werr
  while not s.stopped do
    if not fw then
      fw, werr = rec.fs.watch(s.file)
      if not fw then
        if werr and werr.kind == "cancelled" then return end
        refuse(s, "unwatchable", ("cannot watch the file for changes: %s; trying again in %gs")
                                 :format(tostring(werr), s.every))
        if not rec.sleep(s.every) then return end
      end
    end
    if fw then
      s.fw = fw
      read_file(s)   -- after the watch is armed: an edit between the two is not missed
      local ok, e = fw:wait()
      if not ok then
        if e and e.kind == "cancelled" then break end
      end
      local dead = fw:info().error
      if dead then
        -- the directory went away (or the kernel dropped the watch): a new watch, or
        -- "unwatchable" until the directory is back
        rec.log.warn("kind=watch_set_rewatch set=%s: the file's watch ended (%s); watching again", s.name, dead)
        fw:close()
        fw, s.fw = nil, nil
        s.last_seen = nil
      end
      -- an editor writes in steps: let it settle, then read (events meanwhile are folded in)
      if s.settle > 0 and not rec.sleep(s.settle) then break end
    end
  end
  if fw then fw:close() end
  s.fw = nil
end

local function url_loop(s)
  while not s.stopped do
    local headers = {}
    for k, v in pairs(s.o.headers or {}) do headers[k] = v end
    if s.etag then headers["If-None-Match"] = s.etag end
    s.next_read = rec.time() + s.every
    local r, e = rec.http{ url = s.url, headers = headers, timeout = s.o.timeout,
                           max_reply = s.max_bytes }
    if s.stopped or rec.cancelled() then break end
    if not r then
      if e and e.kind == "cancelled" then break end
      refuse(s, "unreachable", tostring(e))
    elseif r.status == 304 and s.etag then
      accepted(s)
    elseif r.status ~= 200 then
      refuse(s, "status", ("HTTP %d from %s"):format(r.status, show_url(s.url)))
    else
      local before = s.errors
      take(s, r.body or "")
      -- the validator is kept only for a body that was taken: a refused one is fetched whole
      -- again next time, not answered 304 and thought good
      local etag = r.headers and r.headers["etag"]
      s.etag = (s.errors == before and type(etag) == "string" and #etag <= 1024) and etag or nil
    end
    if not rec.sleep(s.every) then break end
  end
end

-- set:add(entry) -> key, or nil, err (invalid_argument: an entry the file would refuse too,
-- or one the watcher refuses). The entry is the set's until set:remove(key); a re-read of
-- the file or the URL does not remove it (listing it there hands it to the source).
function Set:add(entry)
  local why = check_entry(self.provider, entry)
  if why then return nil, err("invalid_argument", "watch set " .. self.name .. ": the session " .. why) end
  local key = key_of(self.provider, entry)
  local e = self.live[key]
  if e then return nil, err("invalid_argument", ("watch set %s: '%s' is watched already"):format(self.name, key)) end
  local copy = {}
  for k, v in pairs(entry) do copy[k] = v end
  local ok, w = start(self, key, copy, "added", sig_of(copy))
  if not ok then return nil, err("invalid_argument", ("watch set %s: %s"):format(self.name, w)) end
  publish_size(self)
  rec.log.info("kind=watch_set_added set=%s session=%s: watched (added at run time)", self.name, key, { set = self.name })
  return key
end

-- set:remove(key) -> true, or false when the key is not watched. The session's watcher stops
-- once a poll in flight has committed its transition; set:removing(key) is true until then.
function Set:remove(key)
  local ok = drop(self, key, "removed at run time")
  if ok then publish_size(self) end
  return ok
end

function Set:removing(key) return self.stopping[key] ~= nil end

function Set:keys()
  local out = {}
  for k in pairs(self.live) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- The session's watcher handle (nil while a restart waits for the old one to end).
function Set:handle(key)
  local e = self.live[key]
  return e and e.h or nil
end

function Set:info()
  return { name = self.name, source = self.kind, sessions = count(self), keys = self:keys(),
           reads = self.reads, good_reads = self.good_reads, errors = self.errors,
           errors_by_reason = self.errors_by_reason, last_error = self.last_error,
           last_reason = self.last_reason, healthy = not self.bad, last_good = self.last_good }
end

-- Stops the source and every session (each once its poll in flight has committed).
function Set:stop()
  if self.stopped then return end
  self.stopped = true
  names[self.name] = nil
  if self.task then self.task:cancel() end
  for _, key in ipairs(self:keys()) do drop(self, key, "the set stopped") end
  publish_size(self)
  rec.health.forget(self.hkey)
end

function Set:wait()
  if self.task then self.task:wait() end
  while next(self.stopping) do
    local _, e = next(self.stopping)
    e.h:wait()
    rec.sleep(0)
  end
end

function M.set(o)
  if type(o) ~= "table" then error("watch.set takes a table", 2) end
  opts.check(o, SET_KEYS, "watch.set", 2)
  if o.provider ~= "agora" and o.provider ~= "qingcloud" then
    error("watch.set: provider must be \"agora\" or \"qingcloud\"", 2)
  end
  if o.file ~= nil and o.url ~= nil then error("watch.set: file or url, not both", 2) end
  if o.file ~= nil and (type(o.file) ~= "string" or #o.file == 0) then error("watch.set: 'file' must be a path", 2) end
  if o.url ~= nil and (type(o.url) ~= "string" or not o.url:match("^https?://")) then
    error("watch.set: 'url' must be an http:// or https:// URL", 2)
  end
  for _, k in ipairs{ "every", "settle", "timeout", "max_bytes" } do
    if o[k] ~= nil and (type(o[k]) ~= "number" or o[k] ~= o[k] or o[k] < 0 or o[k] == math.huge) then
      error(("watch.set: '%s' must be a number >= 0"):format(k), 2)
    end
  end
  for _, k in ipairs{ "on_change", "on_error" } do
    if o[k] ~= nil and type(o[k]) ~= "function" then error(("watch.set: '%s' must be a function"):format(k), 2) end
  end
  if o.defaults ~= nil and type(o.defaults) ~= "table" then error("watch.set: 'defaults' must be a table", 2) end
  if o.headers ~= nil and type(o.headers) ~= "table" then error("watch.set: 'headers' must be a table", 2) end
  local kind = o.file and "file" or o.url and "url" or "runtime"
  local name = o.name or o.file or (o.url and show_url(o.url)) or ("runtime-" .. o.provider)
  if type(name) ~= "string" or #name == 0 or #name > 200 then error("watch.set: 'name' must be 1..200 bytes", 2) end
  -- the name is the set's /healthz entry and metric label: two sets may not share one
  if names[name] then error(("watch.set: a set named '%s' runs already (give each a name=)"):format(name), 2) end
  local every = o.every or 60
  if every < 0.1 then every = 0.1 end
  local s = setmetatable({
    o = o, provider = o.provider, ctor = ctor(o.provider), defaults = o.defaults or {},
    kind = kind, name = name, file = o.file, url = o.url, every = every,
    settle = o.settle or 0.2, max_bytes = math.floor(math.min(o.max_bytes or MAX_BYTES, MAX_BYTES)),
    live = {}, stopping = {}, queued = {}, reads = 0, good_reads = 0, errors = 0,
    errors_by_reason = {}, bad = false, stopped = false,
    hkey = "set/" .. name,
    -- a file set is healthy until a read is refused (no timer reads it); a URL set goes
    -- stale when its polls stop
    stale_after = kind == "url" and (3 * every + 60) or 1e9,
  }, Set)
  names[name] = true
  -- a run-time set has no source that could fail: no entry in /status and /healthz
  if kind ~= "runtime" then
    rec.health.report(s.hkey, { provider = "watch_set", stale_after = s.stale_after })
    s.task = rec.spawn(kind == "file" and file_loop or url_loop, s)
  end
  publish_size(s)
  return s
end

M.parse = parse   -- for tests
return M
