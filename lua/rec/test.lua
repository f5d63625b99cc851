-- rec.test: test cases for recwatch scripts, run by `recwatch test` (docs/testing.md). Each
-- case gets a fresh engine, a fresh in-process simulator and a virtual clock; the scripts it
-- starts run exactly as under `recwatch run --sim`, on that clock.
--
--   local T = require "rec.test"
--   T.case("one alert", function(t)
--     t:scenario("scenario.lua")                      -- or a table in the same format
--     local p = t:start("alert.lua", { "--for", "0" }, { state = t:tmpfile() })
--     t:advance(3600)                                 -- virtual seconds
--     t:eq(#t:webhooks(), 1, "one alert")
--   end)
local rec = rec or require "rec"
local native = require "rec.test.native"  -- only there under `recwatch test`

local T = { _cases = {} }

-- Registers a case; `recwatch test` runs each in order, each on its own engine.
function T.case(name, fn)
  if type(name) ~= "string" then error("T.case: the first argument is the case's name", 2) end
  if type(fn) ~= "function" then error("T.case: the second argument is a function(t)", 2) end
  local info = debug.getinfo(2, "Sl")
  T._cases[#T._cases + 1] = { name = name, fn = fn, where = info.short_src .. ":" .. info.currentline }
end

-- An assertion failure: ends the case with "file:line: message" (the line in the test file).
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end

local function fail(message, level)
  local info = debug.getinfo(level + 1, "Sl")
  local where = info and info.currentline and info.currentline > 0
                and (info.short_src .. ":" .. info.currentline .. ": ") or ""
  error(setmetatable({ message = where .. message }, Failure), 0)
end
T._Failure = Failure

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts, n = {}, 0
  for k, x in pairs(v) do
    n = n + 1
    if n > 8 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = (type(k) == "string" and k or "[" .. tostring(k) .. "]") .. "=" ..
                        (type(x) == "table" and "{...}" or show(x))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function deep_eq(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do if not deep_eq(v, b[k], seen) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- Reads a scenario table back as the Lua source `recwatch sim --scenario` loads.
local function serialize(v, out)
  local ty = type(v)
  if ty == "table" then
    out[#out + 1] = "{"
    for k, x in pairs(v) do
      if type(k) == "string" and k:match("^[%a_][%w_]*$") then out[#out + 1] = k .. "="
      else out[#out + 1] = "["; serialize(k, out); out[#out + 1] = "]=" end
      serialize(x, out)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  elseif ty == "string" then out[#out + 1] = ("%q"):format(v)
  elseif ty == "number" then
    out[#out + 1] = math.type(v) == "integer" and tostring(v) or ("%.17g"):format(v)
  elseif ty == "boolean" then out[#out + 1] = tostring(v)
  else error("t:scenario: a scenario holds tables, strings, numbers and booleans, not " .. ty, 4) end
end

local Case = {}
Case.__index = Case

local Proc = {}
Proc.__index = Proc

-- The simulator's story: a scenario file (relative to the test file) or a table in the same
-- format. Before the first t:start; without it the simulator tells its default story.
function Case:scenario(s)
  local path
  if type(s) == "table" then
    local out = { "return " }
    serialize(s, out)
    path = self:tmpfile("scenario.lua")
    local f = assert(io.open(path, "w"))
    f:write(table.concat(out))
    f:close()
  elseif type(s) == "string" then
    path = native.resolve(s)
  else
    fail("t:scenario takes a file name or a table", 2)
  end
  local ok, err = native.scenario(path)
  if not ok then fail("t:scenario: " .. tostring(err), 2) end
end

-- A fresh file name in the case's scratch directory (removed after the case).
function Case:tmpfile(name)
  self._ntmp = (self._ntmp or 0) + 1
  return native.tmpdir() .. "/" .. (name or ("tmp" .. self._ntmp))
end

-- Starts a script (relative to the test file) as under `recwatch run --sim`: its own engine,
-- the case's simulator and clock. opts: state = DB (like --state), env = { NAME = value }
-- (what os.getenv sees; nothing else from the real environment leaks in), task_errors = N
-- (its tasks and watcher callbacks that fail on purpose; any other count fails the case).
function Case:start(script, args, opts)
  if type(script) ~= "string" then fail("t:start takes the script's file name", 2) end
  local argv = {}
  for i, a in ipairs(args or {}) do argv[i] = tostring(a) end
  opts = opts or {}
  local ne = opts.task_errors
  if ne ~= nil and (math.type(ne) ~= "integer" or ne < 0) then
    fail("t:start: opts.task_errors is a count >= 0", 2)
  end
  local h, err = native.start(native.resolve(script), argv, opts.state, opts.env or {}, ne)
  if not h then fail("t:start: " .. tostring(err), 2) end
  return setmetatable({ h = h, script = script }, Proc)
end

-- Moves virtual time on by `seconds`, running everything due meanwhile (and what that
-- started at the end time, once all of it waits again).
function Case:advance(seconds)
  if type(seconds) ~= "number" or seconds < 0 then fail("t:advance takes seconds >= 0", 2) end
  if seconds > 0 then rec.sleep(seconds) end
  native.settle()
end

-- How many tasks of the case function itself (rec.spawn in the case) fail on purpose; any
-- other count fails the case (0 by default).
function Case:task_errors(n)
  if math.type(n) ~= "integer" or n < 0 then fail("t:task_errors takes a count >= 0", 2) end
  native.task_errors(n)
end

-- Virtual seconds since the case started.
function Case:now() return rec.now() end

-- Decoded JSON bodies the simulator's webhook sink received, in order (a body that is not
-- JSON comes as { raw = "..." }).
function Case:webhooks()
  local out = {}
  for i, body in ipairs(native.webhooks()) do
    out[i] = rec.json.decode(body) or { raw = body }
  end
  return out
end

-- The simulator's request log, one table per request: t, method, path, query, provider,
-- auth, status, fault.
function Case:requests()
  local out = {}
  local f = io.open(native.request_log(), "r")
  if not f then return out end
  for line in f:lines() do out[#out + 1] = rec.json.decode(line) end
  f:close()
  return out
end

-- Log lines of the case (every script and the simulator), without their timestamps, that
-- match the Lua pattern (all of them without one).
function Case:logs(pattern)
  local out = {}
  for _, line in ipairs(native.logs()) do
    if not pattern or line:find(pattern) then out[#out + 1] = line end
  end
  return out
end

function Case:eq(got, want, msg)
  if not deep_eq(got, want) then
    fail(("%sexpected %s, got %s"):format(msg and (msg .. ": ") or "", show(want), show(got)), 2)
  end
  return got
end

function Case:ok(v, msg)
  if not v then fail(msg or "expected a true value", 2) end
  return v
end

-- fn() must raise an error whose message matches the Lua pattern (when given). Returns it.
function Case:fails(fn, pattern)
  local ok, err = pcall(fn)
  if ok then fail("expected an error" .. (pattern and (" matching '" .. pattern .. "'") or ""), 2) end
  local msg = tostring(err)
  if pattern and not msg:find(pattern) then
    fail(("expected an error matching '%s', got: %s"):format(pattern, msg), 2)
  end
  return msg
end

-- Like kill -9: its tasks are gone, nothing is flushed; what it committed to its state stays.
function Proc:kill() native.kill(self.h) end
-- Like SIGTERM: pending calls are cancelled and the script winds down (advance to let it).
function Proc:stop() native.stop(self.h) end
-- nil while it runs; else its exit status (137 after kill).
function Proc:exited() return native.exited(self.h) end

T._Case = Case
return T
