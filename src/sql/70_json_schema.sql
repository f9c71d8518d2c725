-- mycelium: JSON Schema validation (draft 2020-12, and draft-07 when the
-- schema's "$schema" says so).  STABLE, not IMMUTABLE: references may
-- name documents of the registry below.

CREATE FUNCTION mycelium.json_schema_validate(schema jsonb, instance jsonb)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_json_schema_validate';
COMMENT ON FUNCTION mycelium.json_schema_validate(jsonb, jsonb) IS
	'whether the instance is valid against the JSON Schema';

CREATE FUNCTION mycelium.json_schema_errors(schema jsonb, instance jsonb)
RETURNS TABLE (instance_location text, keyword_location text, keyword text, message text)
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_json_schema_errors';
COMMENT ON FUNCTION mycelium.json_schema_errors(jsonb, jsonb) IS
	'every way the instance breaks the JSON Schema: JSON pointer of the value, location of the keyword, keyword, message';

-- The schema registry: documents that "$ref" (and "$schema") may name by
-- URI.  A role registers its own; members of mycelium_admin also register
-- shared ones, which every role's references reach.  A reference resolves
-- to the current role's registration of the URI, else to the shared one.
CREATE TABLE mycelium.json_schema_registry (
	owner regrole NOT NULL,
	uri text COLLATE "C" NOT NULL
		CHECK (pg_catalog.length(uri) BETWEEN 1 AND 2048),
	schema jsonb NOT NULL,
	shared boolean NOT NULL DEFAULT false,
	registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (owner, uri)
);
CREATE UNIQUE INDEX json_schema_registry_shared ON mycelium.json_schema_registry (uri)
	WHERE shared;
COMMENT ON TABLE mycelium.json_schema_registry IS
	'JSON Schema documents that references in schemas name by URI: per role, or shared (registered by an admin)';
COMMENT ON COLUMN mycelium.json_schema_registry.owner IS
	'the role that registered the document';
COMMENT ON COLUMN mycelium.json_schema_registry.shared IS
	'whether every role''s references reach it (else only its owner''s)';

ALTER TABLE mycelium.json_schema_registry ENABLE ROW LEVEL SECURITY;
CREATE POLICY json_schema_registry_visible ON mycelium.json_schema_registry FOR SELECT
	USING (shared
		   OR owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
REVOKE ALL ON mycelium.json_schema_registry FROM PUBLIC;
GRANT SELECT ON mycelium.json_schema_registry TO mycelium_user;
SELECT pg_catalog.pg_extension_config_dump('mycelium.json_schema_registry', '');

CREATE VIEW mycelium.json_schemas WITH (security_invoker = true) AS
SELECT r.uri, r.owner::text AS owner, r.shared, r.schema, r.registered_at
  FROM mycelium.json_schema_registry r;
COMMENT ON VIEW mycelium.json_schemas IS
	'registered JSON Schema documents visible to the current role: its own and the shared ones';
GRANT SELECT ON mycelium.json_schemas TO mycelium_user;

CREATE FUNCTION mycelium.register_schema(uri text, schema jsonb, shared boolean DEFAULT false)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_register_schema';
COMMENT ON FUNCTION mycelium.register_schema(text, jsonb, boolean) IS
	'registers (or replaces) a JSON Schema document under an absolute URI, for the calling role or, by an admin, shared';

CREATE FUNCTION mycelium.unregister_schema(uri text, shared boolean DEFAULT false)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_unregister_schema';
COMMENT ON FUNCTION mycelium.unregister_schema(text, boolean) IS
	'removes the calling role''s registration of a URI or, by an admin, the shared one';
