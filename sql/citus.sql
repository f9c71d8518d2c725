-- mycelium.distribute() where Citus is not installed: refused with
-- SQLSTATE 55000, saying what to do, and nothing changes; only an
-- administrator may call it.  (test/t/032_citus.pl runs it on a cluster.)
SELECT count(*) AS policies_with_subselects
  FROM pg_policies WHERE schemaname = 'mycelium' AND qual LIKE '%SELECT%';
\set SHOW_CONTEXT never
SELECT mycelium.distribute();
\set SHOW_CONTEXT errors
\set VERBOSITY sqlstate
SELECT mycelium.distribute();
\set VERBOSITY default
SELECT count(*) AS policies_with_subselects
  FROM pg_policies WHERE schemaname = 'mycelium' AND qual LIKE '%SELECT%';
SELECT count(*) AS triggers
  FROM pg_trigger WHERE tgrelid = 'mycelium.workflow_states'::regclass AND NOT tgisinternal;
SELECT has_function_privilege('mycelium_user', 'mycelium.distribute()', 'EXECUTE') AS user_may_call;
