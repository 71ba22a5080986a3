# shellcheck shell=bash
# Services the human-study tests need: a PostgreSQL server and Debian's chromium (+ driver).
# Sourced by .ci/run on a fresh Debian machine as root; idempotent, quiet, fast when already set up.
# Exports PROCEVAL_TEST_POSTGRES_URL (tests/humans use it) and PROCEVAL_CHROMIUM; returns non-zero, saying
# why, when any of it fails.

_proceval_services() {
  local need=()
  command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
      || { echo "services.sh: apt-get install ${need[*]} failed" >&2; return 1; }
  fi

  # PostgreSQL: the newest installed cluster, created if the package did not make one, started if down.
  local ver
  ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  if [ -z "$ver" ]; then echo "services.sh: no PostgreSQL installed" >&2; return 1; fi
  local clusters status
  clusters=$(pg_lsclusters -h 2>/dev/null || true)
  if [ -z "$(awk -v v="$ver" '$1 == v && $2 == "main"' <<<"$clusters")" ]; then
    pg_createcluster "$ver" main >/dev/null 2>&1 || true
    clusters=$(pg_lsclusters -h 2>/dev/null || true)
  fi
  status=$(awk -v v="$ver" '$1 == v && $2 == "main" {print $4}' <<<"$clusters")
  if [ "$status" != "online" ]; then
    pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
    status=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" {print $4}' || true)
    [ "$status" = "online" ] || { echo "services.sh: could not start PostgreSQL $ver" >&2; return 1; }
  fi
  local port
  port=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}' || true)
  port=${port:-5432}
  local i
  for i in $(seq 1 30); do
    su postgres -c "psql -p $port -tAc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.5
  done
  # the role and database the tests use: any failure here is reported with psql's own message
  su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -q" >/dev/null <<SQL \
    || { echo "services.sh: could not create the PostgreSQL role proceval (psql's error above)" >&2; return 1; }
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'proceval') THEN
    CREATE ROLE proceval LOGIN PASSWORD 'proceval' CREATEDB;
  END IF;
END \$\$;
SQL
  local exists
  exists=$(su postgres -c "psql -p $port -tAc \"select 1 from pg_database where datname = 'proceval_test'\"") \
    || { echo "services.sh: could not query PostgreSQL on port $port (psql's error above)" >&2; return 1; }
  if [ "$exists" != "1" ]; then
    su postgres -c "createdb -p $port -O proceval proceval_test" \
      || { echo "services.sh: could not create the database proceval_test (createdb's error above)" >&2; return 1; }
  fi
  export PROCEVAL_TEST_POSTGRES_URL="postgresql+psycopg://proceval:proceval@127.0.0.1:$port/proceval_test"
  export PROCEVAL_CHROMIUM=/usr/bin/chromium
}

# a failure is loud: .ci/run (set -e) stops here; a user who sources this by hand sees what is missing
_proceval_services_status=0
_proceval_services || _proceval_services_status=$?
unset -f _proceval_services
if [ "$_proceval_services_status" -ne 0 ]; then
  unset _proceval_services_status
  echo "services.sh: the test services could not be set up (see above); the tests that need them will skip" >&2
  return 1
fi
unset _proceval_services_status
