-- Bad arguments to rec.query_qingcloud / rec.query_agora return nil + invalid_argument naming
-- the parameter, synchronously (attempts == 0), without sending anything. Runs under
-- `run --sim` (ctest lua.provider_validation) and against a standalone sim with
-- --log-requests (tests/sh/provider_validation.sh checks that no request arrived).
local QC = { app_id = "demo-app", channel = "demo-channel" }
local AG = { appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }

local function with(base, extra, drop)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra or {}) do t[k] = v end
  if drop then t[drop] = nil end
  return t
end

local n = 0
local function bad(fn, params, name, pattern)
  local t0 = rec.now()
  local res, err = fn(params)
  assert(res == nil, name .. ": expected an error, got a result")
  assert(type(err) == "table" and err.kind == "invalid_argument",
         name .. ": expected invalid_argument, got " .. tostring(err and err.kind))
  assert(err.message:find(pattern, 1, true),
         name .. ": message does not name '" .. pattern .. "': " .. err.message)
  assert(err.attempts == 0, name .. ": attempts " .. tostring(err.attempts))
  assert(err.retryable == false and err.status == nil, name)
  assert(tostring(err):find("^invalid_argument: "), name .. ": __tostring " .. tostring(err))
  assert(rec.now() - t0 < 0.05, name .. ": took " .. (rec.now() - t0) .. " s")
  n = n + 1
end

local qc, ag = rec.query_qingcloud, rec.query_agora

-- QingCloud: required, ranges, window, types
bad(qc, with(QC, nil, "app_id"), "qc missing app_id", "app_id")
bad(qc, with(QC, { app_id = "" }), "qc empty app_id", "app_id")
bad(qc, with(QC, nil, "channel"), "qc missing channel", "channel")
bad(qc, with(QC, { limit = 101 }), "qc limit=101", "limit")
bad(qc, with(QC, { limit = 0 }), "qc limit=0", "limit")
bad(qc, with(QC, { offset = -1 }), "qc offset=-1", "offset")
bad(qc, with(QC, { from_hour = 1, to_hour = 3 }), "qc from_hour<to_hour", "from_hour")
bad(qc, with(QC, { from_hour = 25 }), "qc window over 24 h", "from_hour")
bad(qc, with(QC, { from_hour = 30, to_hour = 2 }), "qc window over 24 h", "from_hour")
bad(qc, with(QC, { to_hour = -1 }), "qc to_hour=-1", "to_hour")
bad(qc, with(QC, { limit = "ten" }), "qc limit string", "limit")
bad(qc, with(QC, { limit = 2.5 }), "qc limit fraction", "limit")
bad(qc, with(QC, { from_hour = true }), "qc from_hour boolean", "from_hour")
bad(qc, with(QC, { app_id = { 1 } }), "qc app_id table", "app_id")
bad(qc, with(QC, { channel = false }), "qc channel boolean", "channel")
bad(qc, with(QC, { retries = -1 }), "qc retries=-1", "retries")
bad(qc, with(QC, { retries = 21 }), "qc retries=21", "retries")
bad(qc, with(QC, { timeout = 0 }), "qc timeout=0", "timeout")
bad(qc, with(QC, { timeout = "soon" }), "qc timeout string", "timeout")
bad(qc, nil, "qc no table", "rec.query_qingcloud")
bad(qc, "demo-app", "qc string argument", "rec.query_qingcloud")

-- Agora
bad(ag, with(AG, nil, "appid"), "agora missing appid", "appid")
bad(ag, with(AG, nil, "resourceid"), "agora missing resourceid", "resourceid")
bad(ag, with(AG, nil, "sid"), "agora missing sid", "sid")
bad(ag, with(AG, { sid = "" }), "agora empty sid", "sid")
bad(ag, with(AG, { sid = "a/b" }), "agora sid with /", "sid")
bad(ag, with(AG, { resourceid = "r\n1" }), "agora control char", "resourceid")
bad(ag, with(AG, { mode = "foo" }), "agora mode=foo", "mode")
bad(ag, with(AG, { mode = "MIX" }), "agora mode=MIX", "mode")
bad(ag, with(AG, { mode = {} }), "agora mode table", "mode")
bad(ag, with(AG, { appid = true }), "agora appid boolean", "appid")
bad(ag, with(AG, { retries = 1.5e3 }), "agora retries", "retries")
bad(ag, with(AG, { timeout = -2 }), "agora timeout", "timeout")
bad(ag, nil, "agora no table", "rec.query_agora")

-- wrong types to rec.configure are the script's bug: they raise
local ok, msg = pcall(rec.configure, { agora = { rate = "fast" } })
assert(not ok and msg:find("rate", 1, true), tostring(msg))
ok, msg = pcall(rec.configure, { agora = { retries = 99 } })
assert(not ok and msg:find("retries", 1, true), tostring(msg))
ok, msg = pcall(rec.configure, { agora = { timeout = 0 } })
assert(not ok and msg:find("timeout", 1, true), tostring(msg))
ok, msg = pcall(rec.configure, { qingcloud = { secret = "x" } })
assert(not ok and msg:find("unknown setting 'secret'", 1, true), tostring(msg))

-- a key that is no parameter (a typo) used to be ignored: the default was used instead
bad(qc, with(QC, { form_hour = 3 }), "qc typo form_hour", "unknown parameter 'form_hour' (did you mean 'from_hour'?)")
bad(qc, with(QC, { [1] = "x" }), "qc array item", "a key that is not a parameter name (a number)")
bad(ag, with(AG, { ["timeout\0x"] = 5 }), "agora key with a NUL", "unknown parameter 'timeout' (with a NUL byte)")
bad(ag, with(AG, { timout = 5 }), "agora typo timout", "unknown parameter 'timout' (did you mean 'timeout'?)")
bad(ag, with(AG, { resourceId = "r" }), "agora resourceId", "did you mean 'resourceid'?")
-- a valid query still works afterwards (the sim is there, nothing was broken)
local res, err = qc(with(QC, { limit = 100, offset = 0, from_hour = 24, to_hour = 0 }))
assert(res, tostring(err))
assert(math.type(res.limit) == "integer" and res.limit == 100)
print(string.format("provider_validation ok: %d bad calls rejected", n))
