-- Failover host A for tests/sh/provider_failover.sh: the same customer and recording as
-- provider_failover_b.lua, but every Agora request gets a 500 (an nginx html page).
return {
  agora = { customer_id = "fo-customer", customer_secret = "fo-secret-0123456789", rate_limit = 0 },
  agora_recordings = { { appid = "fo-app", resourceid = "fo-rid", sid = "fo-sid", mode = "mix",
                         status = 5 } },
  faults = { { provider = "agora", kind = "500_html" } },
}
