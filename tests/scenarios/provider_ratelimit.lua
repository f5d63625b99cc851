-- Rate-limit scenario for tests/lua/provider_ratelimit.lua (virtual clock) and
-- tests/sh/provider_ratelimit.sh (real clock): one Agora customer limited to 20 requests
-- per second by the sim's strict limit (a sliding one-second window over arrival times, no
-- burst: past it, 429).
return {
  agora = { customer_id = "rl-customer", customer_secret = "rl-secret-0123456789", rate_limit = 20 },
  agora_recordings = { { appid = "rl-app", resourceid = "rl-rid", sid = "rl-sid", mode = "mix",
                         status = 5 } },
}
