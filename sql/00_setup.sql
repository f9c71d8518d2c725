-- Shared fixtures of the regression tests: a helper that shows an
-- expected error with its SQLSTATE, executors, and the roles the tests use.

CREATE SCHEMA regress;

-- regress.try(sql): runs sql and shows the error it raises, as
-- "SQLSTATE: message" with DETAIL and HINT lines, or "ok".  Workflow ids
-- (random UUIDs) in messages are shown as <uuid>.
CREATE FUNCTION regress.try(stmt text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hin text;
BEGIN
	EXECUTE stmt;
	RETURN NEXT 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT;
	msg := regexp_replace(msg, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
	RETURN NEXT st || ': ' || msg;
	IF det <> '' THEN RETURN NEXT '  DETAIL: ' || det; END IF;
	IF hin <> '' THEN RETURN NEXT '  HINT: ' || hin; END IF;
END;
$$;

-- regress.counts(): rows in each catalog table, to show a failed call
-- stored nothing
CREATE FUNCTION regress.counts(OUT workflows bigint, OUT tasks bigint, OUT history bigint)
LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM mycelium.workflow_states),
		   (SELECT count(*) FROM mycelium.task_states),
		   (SELECT count(*) FROM mycelium.workflow_state_history)
$$;

CREATE FUNCTION regress.echo(ctx jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT ctx $$;

SELECT mycelium.register_executor('worker', 'regress.echo(jsonb)');
SELECT mycelium.register_executor('external', NULL);

-- roles: two users and an administrator, all allowed to log in
CREATE ROLE regress_alice LOGIN IN ROLE mycelium_user;
CREATE ROLE regress_bob LOGIN IN ROLE mycelium_user;
CREATE ROLE regress_admin LOGIN IN ROLE mycelium_admin;
CREATE ROLE regress_outsider LOGIN;
CREATE ROLE regress_nologin NOLOGIN IN ROLE mycelium_user;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA regress TO PUBLIC;
