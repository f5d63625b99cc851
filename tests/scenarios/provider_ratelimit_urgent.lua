-- Scenario for tests/lua/provider_ratelimit_urgent.lua (virtual clock): one Agora customer
-- limited to 10 requests per second by the sim's strict limit (past it, 429).
return {
  agora = { customer_id = "rl-customer", customer_secret = "rl-secret-0123456789", rate_limit = 10 },
  agora_recordings = { { appid = "rl-app", resourceid = "rl-rid", sid = "rl-sid", mode = "mix",
                         status = 5 } },
}
