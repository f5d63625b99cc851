-- Scenario for tests/lua/engine_hardening.lua: no Agora rate limit, so 200 queries go fast.
return { agora = { rate_limit = 0 } }
