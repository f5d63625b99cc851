-- Per-call retries and retry_delays override the provider's for that call only.
rec.configure{ agora = { rate = 0 } }
local t0 = rec.now()
local r, err = rec.query_agora{ appid = "app", resourceid = "r", sid = "s",
                                retries = 2, retry_delays = { 0.1, 0.2 } }
local took = rec.now() - t0
assert(r == nil and err.kind == "server" and err.attempts == 3, tostring(err))
assert(took >= (0.1 + 0.2) * 0.8, "waited the per-call delays (with jitter): " .. took)

local _, e1 = rec.query_agora{ appid = "app", resourceid = "r", sid = "s", retry_delays = { "x" } }
assert(e1.kind == "invalid_argument" and e1.message:find("retry_delays%[1%]"), e1.message)
local _, e2 = rec.query_agora{ appid = "app", resourceid = "r", sid = "s", retry_delays = {} }
assert(e2.kind == "invalid_argument" and e2.message:find("1 to 8 delays"), e2.message)
print("provider_retry_delays ok")
