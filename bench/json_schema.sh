#!/usr/bin/env bash
# bench/json_schema.sh: JSON Schema validations per second (SPEC section 5).
#
#   bash bench/json_schema.sh            (as root or with sudo; under a minute)
#
# One backend validates a typical handoff-like message (about 1 KB, a schema
# of 15 properties with nested objects, enums, patterns and formats) with
# mycelium.json_schema_validate, the compiled schema cached, N times in a
# loop; the yardstick is parsing the same text into jsonb N times in the
# same loop.  Median of RUNS runs; the ratio is measured in the same run.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"

RUNS=${RUNS:-5}
N=${N:-20000}
PORT=${PORT:-54396}
DIR=/tmp/mycelium-bench-json-schema
DB=bench

mc_install_packages $MC_PACKAGES
mc_stage "$here"
mc_build_install
mc_cluster_start "$DIR" "$PORT" "$DB"
trap 'mc_cluster_stop "$DIR"; mc_unstage' EXIT

mc_as_user psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -d "$DB" -At <<SQL
CREATE TABLE doc (schema jsonb, message text);
INSERT INTO doc VALUES (
'{"type": "object",
  "required": ["message_id", "source_agent", "target_agent", "task_description", "timestamp"],
  "additionalProperties": false,
  "properties": {
    "message_id": {"type": "string", "pattern": "^[0-9a-f-]{36}$"},
    "version": {"const": "1.0"},
    "timestamp": {"type": "string", "format": "date-time"},
    "source_agent": {"\$ref": "#/\$defs/agent"},
    "target_agent": {"\$ref": "#/\$defs/agent"},
    "task_description": {"type": "string", "minLength": 1, "maxLength": 10000},
    "priority": {"enum": ["low", "normal", "high"]},
    "context": {"type": "object"},
    "metadata": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    "progress": {"type": ["object", "null"], "properties": {"percent": {"type": "number", "minimum": 0, "maximum": 100}}},
    "attachments": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
    "retry_count": {"type": "integer", "minimum": 0},
    "deadline": {"type": ["string", "null"]},
    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
    "correlation_id": {"type": "string"}
  },
  "\$defs": {"agent": {"type": "object", "required": ["agent_id", "agent_type"],
      "properties": {"agent_id": {"type": "string", "minLength": 1}, "agent_type": {"type": "string"}}}}}',
'{"message_id": "9c2f4e7a-1b3d-4e5f-8a9b-0c1d2e3f4a5b", "version": "1.0",
  "timestamp": "2026-11-24T09:00:00Z",
  "source_agent": {"agent_id": "parser-1", "agent_type": "parser"},
  "target_agent": {"agent_id": "analyzer-7", "agent_type": "analyzer"},
  "task_description": "Analyze the parsed modules for unsafe patterns and report every finding with its location, severity and a suggested fix. Prefer precision over recall; group findings by module.",
  "priority": "high",
  "context": {"repository": "example/service", "commit": "4f1c2d3", "files": ["src/a.c", "src/b.c", "src/c.c"], "language": "c"},
  "metadata": {"team": "platform", "budget_tokens": 20000, "interactive": false},
  "progress": {"percent": 40, "stage": "parsing done"},
  "attachments": ["s3://bucket/a.json", "s3://bucket/b.json"],
  "retry_count": 0, "deadline": null, "tags": ["security", "review", "c"],
  "correlation_id": "req-8812"}');
SELECT format('message: %s bytes; valid: %s', octet_length(message),
	mycelium.json_schema_validate(schema, message::jsonb)) FROM doc;
SQL

vals=(); parses=()
for i in $(seq "$RUNS"); do
	out=$(mc_as_user psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -d "$DB" -At <<SQL
DO \$\$
DECLARE
	s jsonb; m text; j jsonb; ok boolean; t0 timestamptz; tv float8; tp float8;
BEGIN
	SELECT schema, message INTO s, m FROM doc;
	j := m::jsonb;
	t0 := clock_timestamp();
	FOR k IN 1 .. $N LOOP ok := mycelium.json_schema_validate(s, j); END LOOP;
	tv := extract(epoch FROM clock_timestamp() - t0);
	t0 := clock_timestamp();
	FOR k IN 1 .. $N LOOP j := m::jsonb; END LOOP;
	tp := extract(epoch FROM clock_timestamp() - t0);
	RAISE NOTICE '% %', round($N / tv), round($N / tp);
END \$\$;
SQL
	)
	echo "$out"
done 2>&1 | sed -n 's/.*NOTICE:  \([0-9]*\) \([0-9]*\)/\1 \2/p' > "$DIR/runs.txt"
cat "$DIR/runs.txt" | awk '{ printf "run %d: %s validations/s, %s jsonb parses/s\n", NR, $1, $2 }'
v=$(awk '{print $1}' "$DIR/runs.txt" | mc_median)
p=$(awk '{print $2}' "$DIR/runs.txt" | mc_median)
printf 'median: %s validations/s (cached schema), %s jsonb parses/s of the same text; ratio %.2f\n' "$v" "$p" \
	"$(awk -v v="$v" -v p="$p" 'BEGIN { print v / p }')"
