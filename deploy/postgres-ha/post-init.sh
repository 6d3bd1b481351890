#!/bin/sh
# Run once by Patroni on the first primary, after initdb (bootstrap.post_init): botbox's role
# and database. Patroni passes a connection string as $1; the password comes from the
# environment (compose.yaml).
set -eu
psql "$1" -v ON_ERROR_STOP=1 -v pw="$BOTBOX_DB_PASSWORD" <<'SQL'
CREATE ROLE botbox LOGIN PASSWORD :'pw';
CREATE DATABASE botbox OWNER botbox;
SQL
