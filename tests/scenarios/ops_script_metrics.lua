-- Scenario for tests/lua/ops_script_metrics.lua: the first Agora request gets a 429, the
-- retry succeeds.
return {
  agora = { rate_limit = 0 },
  agora_recordings = {
    { appid = "m-app", resourceid = "m-rid", sid = "m-sid", mode = "mix", status = 5 },
  },
  faults = { { provider = "agora", kind = "429", nth = { 1 } } },
}
