-- Rate-limit scenario for tests/sh/provider_ratelimit.sh: one Agora customer limited to
-- 20 requests per second (the sim's sliding window answers 429 past it).
return {
  agora = { customer_id = "rl-customer", customer_secret = "rl-secret-0123456789", rate_limit = 20 },
  agora_recordings = { { appid = "rl-app", resourceid = "rl-rid", sid = "rl-sid", mode = "mix",
                         status = 5 } },
}
