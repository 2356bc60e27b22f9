-- wrk script of tests/serve/test_server.py (part memory): POST /predict with two SST-2 sentences;
-- prints one summary line (requests, non-2xx answers, socket errors).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs": ["a gorgeous , witty , seductive movie .", "the film is strictly routine ."]}'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("ember-wrk requests=%d non2xx=%d socket_errors=%d\n", summary.requests,
                         e.status, e.connect + e.read + e.write + e.timeout))
end
