-- rec.metrics: the built-in counters move where a request's outcome is known (a 429 then a
-- success: rate_limited, retries, ok, durations, pacing waits); names and labels validated, the runtime's prefixes reserved, counters end in
-- _total and only go up, every label must be given, the cardinality cap is an error;
-- re-registering the same definition returns the same series; rec.health validates state.
local function fails(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error matching " .. pattern)
  assert(tostring(err):find(pattern, 1, true), ("'%s' does not contain '%s'"):format(tostring(err), pattern))
end

local M = rec.metrics
fails("invalid metric name", M.gauge, "bad-name", "x")
fails("prefixes are the runtime's", M.gauge, "recwatch_mine", "x")
fails("prefixes are the runtime's", M.counter, "process_x_total", "x")
fails("ends in _total", M.counter, "events", "x")
fails("invalid label name", M.gauge, "g1", "x", { "__reserved" })
fails("invalid label name", M.gauge, "g2", "x", { "has space" })
fails("'le' is reserved", M.histogram, "h1", "x", { "le" })
fails("ascending", M.histogram, "h2", "x", {}, { 1, 0.5 })

local c = M.counter("script_events_total", "Events.", { "kind" })
c:inc({ kind = "a" })
c:inc(2, { kind = "a" })
fails("needs a string value", c.inc, c, 1, { other = "x" })
fails("exactly 1 expected", c.inc, c, 1, { kind = "a", extra = "b" })
fails("only goes up", c.inc, c, -1, { kind = "a" })
fails("only gauges are set", c.set, c, 1, { kind = "a" })
-- the same definition again (a reloaded script) is the same family; another is an error
assert(M.counter("script_events_total", "Events.", { "kind" }))
fails("already registered", M.counter, "script_events_total", "Events.", { "other" })

local g = M.gauge("script_queue", "Queue.")
g:set(5) g:dec() g:inc(2)
local h = M.histogram("script_seconds", "Durations.", { "step" }, { 0.1, 1 })
h:observe(0.5, { step = "x" })

-- the cap: METRICS_MAX_SERIES label combinations, then an error naming it
local ids = M.gauge("script_by_id", "One per id (what not to do).", { "id" })
for i = 1, M.max_series do ids:set(i, { id = tostring(i) }) end
fails("cardinality cap", ids.set, ids, 1, { id = "one-more" })
ids:set(7, { id = "7" })  -- existing series still work

fails("state is ok, stale, error or auth_failed", rec.health.report, "w", { state = "bogus" })
rec.health.report("w", { provider = "agora", ok = true, status = "5", stale_after = 60 })
-- /status: the watcher, and redacted like logs
rec.secret("topsecret-token-123")
rec.health.report("w2", { provider = "qingcloud", ok = false, stale_after = 60,
                          error = "network: GET https://h/?token=topsecret-token-123 failed" })
local st = rec.json.decode(rec.health.status())
assert(#st.watchers == 2, rec.health.status())
local by = {}
for _, w in ipairs(st.watchers) do by[w.key] = w end
assert(by.w.state == "ok" and by.w.provider == "agora" and by.w.last_status == "5")
assert(by.w2.state == "error" and by.w2.last_error:find("[REDACTED]", 1, true), by.w2.last_error)
assert(not rec.health.status():find("topsecret", 1, true))
assert(st.healthy == true and st.uptime_seconds >= 0 and st.outbox.pending == 0)
rec.health.forget("w") rec.health.forget("w2")
assert(#rec.json.decode(rec.health.status()).watchers == 0)

-- structured log fields accept strings, numbers and booleans; other values are skipped
rec.log.info("with fields", { sid = "s", n = 1.5, ok = false, skipped = {} })
rec.log.info("an error object is formatted, not taken as fields: %s",
             setmetatable({}, { __tostring = function() return "E" end }))
-- built-ins: one 429 (retried) then a success
local res, err = rec.query_agora{ appid = "m-app", resourceid = "m-rid", sid = "m-sid",
                                  retry_delays = { 0.05 } }
assert(res and res.status == 5, tostring(err))
local page = rec.metrics.text()
local function has(line)
  assert(page:find(line, 1, true), ("/metrics lacks '%s':\n%s"):format(line, page))
end
has('recwatch_provider_requests_total{provider="agora",outcome="rate_limited"} 1\n')
has('recwatch_provider_requests_total{provider="agora",outcome="ok"} 1\n')
has('recwatch_retries_total{provider="agora"} 1\n')
has('recwatch_provider_request_duration_seconds_count{provider="agora"} 2\n')
has('recwatch_pacing_wait_seconds_count{provider="agora"} 2\n')
has('script_events_total{kind="a"} 3\n')
has('script_queue 6\n')
has('script_seconds_bucket{step="x",le="1"} 1\n')
-- one listener per process: the same address again (however written) is a no-op
rec.configure{ listen = "127.0.0.1:0" }
rec.configure{ listen = "0" }
fails("already listening", rec.configure, { listen = "127.0.0.2:0" })
fails("is not HOST:PORT", rec.configure, { listen = "localhost:http" })
print("ops_script_metrics ok")
