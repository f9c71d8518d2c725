#!/usr/bin/env bash
# bench/json_schema.sh: JSON Schema validations per second (SPEC section 5).
#
#   bash bench/json_schema.sh            (as root or with sudo; under a minute)
#
# One backend validates a typical handoff-like message (about 1 KB, a schema
# of 15 properties with nested objects, enums, patterns and formats) with
# mycelium.json_schema_validate, the compiled schema cached, N times in a
# loop; the yardstick is parsing the same text into jsonb N times in the
# same loop.  Then the same for the handoff protocol: validate_handoff of a
# typical handoff message (about 1 KB, made by create_handoff), and
# deserialize_handoff (text to a validated message), against parsing the
# message's text into jsonb.  Median of RUNS runs; ratios are measured in
# the same run.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
N=${N:-20000}
PORT=${PORT:-54396}
DIR=/tmp/mycelium-bench-json-schema
DB=bench

bench_cluster_start

psql_b -At <<SQL
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
CREATE TABLE handoff (message text);
INSERT INTO handoff SELECT mycelium.serialize_handoff(mycelium.create_handoff(
	'parser-1', 'parser', 'analyzer-7', 'analyzer',
	'Analyze the parsed modules for unsafe patterns and report every finding with its location, severity and a suggested fix. Prefer precision over recall; group findings by module.',
	context => '{"repository": "example/service", "commit": "4f1c2d3", "files": [{"path": "src/a.c", "type": "c"}, {"path": "src/b.c", "type": "c"}, {"path": "src/c.c", "type": "c"}], "language": "c",
		"findings_so_far": [{"file": "src/a.c", "line": 120, "rule": "strcpy", "severity": "high"},
							{"file": "src/b.c", "line": 42, "rule": "format-string", "severity": "medium"}],
		"budget": {"tokens": 20000, "seconds": 300}}',
	metadata => '{"team": "platform", "priority": "high", "correlation_id": "req-8812", "tags": ["security", "review", "c"]}',
	state => '{"progress": {"completed_steps": ["parse"], "pending_steps": ["analyze", "report"], "percentage": 40}, "variables": {"modules": 8}}'));
SELECT format('handoff message: %s bytes; valid: %s', octet_length(message),
	mycelium.validate_handoff(message::jsonb)) FROM handoff;
SQL

vals=(); parses=()
for i in $(seq "$RUNS"); do
	out=$(psql_b -At <<SQL
DO \$\$
DECLARE
	s jsonb; m text; j jsonb; ok boolean; t0 timestamptz; tv float8; tp float8;
	th float8; td float8; tq float8;
BEGIN
	SELECT schema, message INTO s, m FROM doc;
	j := m::jsonb;
	t0 := clock_timestamp();
	FOR k IN 1 .. $N LOOP ok := mycelium.json_schema_validate(s, j); END LOOP;
	tv := extract(epoch FROM clock_timestamp() - t0);
	t0 := clock_timestamp();
	FOR k IN 1 .. $N LOOP j := m::jsonb; END LOOP;
	tp := extract(epoch FROM clock_timestamp() - t0);
	SELECT message INTO m FROM handoff;
	j := m::jsonb;
	t0 := clock_timestamp();
	FOR k IN 1 .. $N LOOP ok := mycelium.validate_handoff(j); END LOOP;
	th := extract(epoch FROM clock_timestamp() - t0);
	t0 := clock_timestamp();
	FOR k IN 1 .. $N LOOP j := mycelium.deserialize_handoff(m); END LOOP;
	td := extract(epoch FROM clock_timestamp() - t0);
	t0 := clock_timestamp();
	FOR k IN 1 .. $N LOOP j := m::jsonb; END LOOP;
	tq := extract(epoch FROM clock_timestamp() - t0);
	RAISE NOTICE '% % % % %', round($N / tv), round($N / tp), round($N / th), round($N / td), round($N / tq);
END \$\$;
SQL
	)
	echo "$out"
done 2>&1 | sed -n 's/.*NOTICE:  \([0-9 ]*\)$/\1/p' > "$DIR/runs.txt"
awk '{ printf "run %d: json_schema_validate %s/s, jsonb parse %s/s; validate_handoff %s/s, deserialize_handoff %s/s, jsonb parse %s/s\n", NR, $1, $2, $3, $4, $5 }' "$DIR/runs.txt"
v=$(awk '{print $1}' "$DIR/runs.txt" | mc_median)
p=$(awk '{print $2}' "$DIR/runs.txt" | mc_median)
h=$(awk '{print $3}' "$DIR/runs.txt" | mc_median)
d=$(awk '{print $4}' "$DIR/runs.txt" | mc_median)
q=$(awk '{print $5}' "$DIR/runs.txt" | mc_median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf 'median: %s validations/s (cached schema), %s jsonb parses/s of the same text; ratio %s\n' "$v" "$p" "$(ratio "$v" "$p")"
printf 'median: validate_handoff %s/s, deserialize_handoff %s/s, %s jsonb parses/s of the same text; ratios %s, %s\n' \
	"$h" "$d" "$q" "$(ratio "$h" "$q")" "$(ratio "$d" "$q")"
