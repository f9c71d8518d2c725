-- mycelium--0.1.0--0.2.0.sql
--	Updates a 0.1.0 catalog to 0.2.0 (ALTER EXTENSION mycelium UPDATE).
--
-- Every catalog change of the 0.2.0 release goes here and into the fresh
-- install script (src/sql/*.sql) alike; test/t/021_upgrade.pl checks that
-- both give the same schema and that workflows running across the update
-- finish.  Statements are schema-qualified: the script runs with
-- search_path set to the extension's schema, but must not depend on it.

\echo Use "ALTER EXTENSION mycelium UPDATE" to load this file. \quit
