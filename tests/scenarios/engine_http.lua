-- Scenario for tests/lua/engine_http.lua: a slow path and a huge reply for rec.http.
return {
  agora_recordings = {
    { appid = "app", resourceid = "r", sid = "ok", mode = "mix", status = 5 },
  },
  faults = {
    { provider = "agora", kind = "delay", ms = 3000, match = "/sid/slow/" },
    { provider = "agora", kind = "huge", bytes = 9 * 1024 * 1024, match = "/sid/big/" },
  },
}
