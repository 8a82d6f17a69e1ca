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

# Runs one SQL statement as the embedded cluster's superuser (trusted, over
# its socket under $DATA_DIR); prints the rows unaligned.
cluster_psql() {
  psql -X -q -t -A -h "$DATA_DIR/postgres/run" -U wacrm -d wacrm -c "$1"
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

# Starts `wacrm serve` ($WACRM) in the background on $DATA_DIR (its embedded
# cluster) and 127.0.0.1:$port, with $ADMIN_EMAIL / $ADMIN_PASSWORD as the
# first admin, logging to $DATA_DIR/wacrm.log, and waits until it is ready.
# None of the caller's WACRM_* settings (nor DATABASE_URL) reaches it: only
# the NAME=value arguments given, over WACRM_LOG=warn.
start_wacrm() {
  local unset=(-u DATABASE_URL) name
  for name in $(compgen -e | grep '^WACRM_'); do unset+=(-u "$name"); done
  env "${unset[@]}" \
      WACRM_DATA_DIR="$DATA_DIR" WACRM_LISTEN="127.0.0.1:$port" \
      WACRM_ADMIN_EMAIL="$ADMIN_EMAIL" WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
      WACRM_LOG=warn "$@" \
      "$WACRM" serve >>"$DATA_DIR/wacrm.log" 2>&1 &
  WACRM_PID=$!
  wait_ready
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

# PostgreSQL's own account of where its time goes (pg_stat_statements, from
# the server's contrib): `statement_stats_preload` before a restart of the
# cluster under $DATA_DIR, `statement_stats_reset` once it is back, and
# `statement_stats_print N` for the N statements that took the most time.
statement_stats_preload() {
  cluster_psql "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
}
statement_stats_reset() {
  cluster_psql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  cluster_psql "SELECT pg_stat_statements_reset()" >/dev/null
}
statement_stats_print() {
  echo "-- PostgreSQL: the $1 statements that took the most time (pg_stat_statements) --"
  echo "   total ms      calls    mean ms        rows  statement"
  cluster_psql "SELECT to_char(total_exec_time, '99999990.0'), to_char(calls, '9999999990'),
                       to_char(mean_exec_time, '9990.000'), to_char(rows, '99999999990'),
                       left(regexp_replace(query, '\s+', ' ', 'g'), 110)
                FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1" | tr '|' ' '
}

# The postmaster's children, read from /proc without scanning every process
# (an awk over /proc/*/stat twice a second took ~10 % of the CPU here).
postmaster_children() {
  cat /proc/"$1"/task/*/children 2>/dev/null || true
}

# CPU ticks (1/100 s): the whole machine, wacrm, and the embedded PostgreSQL
# (postmaster with its exited children, plus its live children).
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
wacrm_ticks() { awk '{ print $14 + $15 }' "/proc/$WACRM_PID/stat" 2>/dev/null || echo 0; }
postgres_ticks() {
  local pg total=0 p
  pg="$(postmaster_pid)"
  [ -n "$pg" ] || { echo 0; return; }
  total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pg/stat" 2>/dev/null || echo 0)
  for p in $(postmaster_children "$pg"); do
    total=$(( total + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0) + 0 ))
  done
  echo "$total"
}
