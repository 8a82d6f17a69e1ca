# Shared by the benchmark scripts (sourced, not run): a free local port and the
# embedded cluster's postmaster.

# Prints a port on 127.0.0.1 that nothing listens on; fails after 50 tries.
free_port() {
  local candidate
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# The embedded cluster's postmaster pid, from the data directory in $DATA_DIR.
postmaster_pid() {
  head -n 1 "$DATA_DIR/postgres/data/postmaster.pid" 2>/dev/null || true
}

# Waits (up to 120 s) until wacrm ($WACRM_PID, logging to $DATA_DIR/wacrm.log)
# answers $URL/readyz with 200; fails, showing the log, if it exits or is late.
wait_ready() {
  local started
  started=$(date +%s)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "$URL/readyz" || true)" = "200" ]; do
    if ! kill -0 "$WACRM_PID" 2>/dev/null; then
      echo "wacrm exited during start-up:" >&2
      cat "$DATA_DIR/wacrm.log" >&2
      return 1
    fi
    if [ $(( $(date +%s) - started )) -ge 120 ]; then
      echo "wacrm was not ready within 120 s:" >&2
      tail -n 50 "$DATA_DIR/wacrm.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "ready after $(( $(date +%s) - started )) s"
}

# Stops wacrm ($WACRM_PID, if set and running) with SIGTERM (SIGKILL after
# 30 s), then makes sure its embedded cluster under $DATA_DIR is down: wacrm
# stops it on shutdown (a watchdog does if it died).
stop_wacrm() {
  local pg
  pg="$(postmaster_pid)"
  if [ -n "$WACRM_PID" ] && kill -0 "$WACRM_PID" 2>/dev/null; then
    kill -TERM "$WACRM_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$WACRM_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$WACRM_PID" 2>/dev/null; then
      echo "wacrm did not stop within 30 s; killing it" >&2
      kill -KILL "$WACRM_PID" 2>/dev/null || true
    fi
    wait "$WACRM_PID" 2>/dev/null || true
  fi
  if [ -n "$pg" ]; then
    for _ in $(seq 1 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pg" 2>/dev/null; then
      echo "the embedded PostgreSQL (pid $pg) is still up; stopping it" >&2
      kill -INT "$pg" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
}
