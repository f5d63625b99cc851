-- Scenario for tests/lua/provider_retry_delays.lua: every Agora request answers a 500.
return {
  agora = { rate_limit = 0 },
  agora_recordings = { { appid = "app", resourceid = "r", sid = "s", status = 5 } },
  faults = { { provider = "agora", kind = "500_html" } },
}
