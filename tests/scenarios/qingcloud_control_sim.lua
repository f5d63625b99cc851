-- QingCloud control calls (tests/lua/qingcloud_control_sim.lua): known keys so the test can
-- sign a request by hand and tamper with it; a channel nobody is in; a start that answers
-- 500 from t=100 s for 30 s (retried 3, 6, 9 s, then an error) and one dropped at t=200 s
-- (not retried: it may have started a task).
return {
  qingcloud = { access_key_id = "QCCTLACCESSKEY", secret_access_key = "qcctl-secret-0123" },
  control = { channels = { { channel = "nobody", publish = {} } } },
  faults = {
    { provider = "qingcloud", kind = "500_html", method = "POST", after = 100, seconds = 30 },
    { provider = "qingcloud", kind = "drop", method = "POST", after = 200, seconds = 5 },
    { provider = "qingcloud", kind = "500_html", method = "PATCH", after = 300, seconds = 4 },
  },
}
