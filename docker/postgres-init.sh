#!/bin/sh
# One database and one role per service: a service connects as its own role, which owns its database and
# nothing else; no service can read another's tables. Run once, by the postgres image, on first start.
set -eu
for service in registry medical education housing employment utilities legal office; do
  password=$(printenv "$(echo "$service" | tr a-z A-Z)_DB_PASSWORD")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v role="$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
