# MyceliumNode: a PostgreSQL::Test::Cluster with mycelium preloaded and
# serving the "postgres" database, plus helpers the TAP tests share.
package MyceliumNode;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use Exporter 'import';

our @EXPORT = qw(mycelium_cluster mycelium_node wait_for_status);

# mycelium_cluster(NAME, EXTRA_CONF...): a started node with mycelium
# preloaded and serving the "postgres" database, where the extension is
# not created yet (EXTRA_CONF comes last, so it can name another database).
sub mycelium_cluster
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'mycelium'",
		"mycelium.database = 'postgres'",
		"max_worker_processes = 16",
		@conf));
	$node->start;
	return $node;
}

# mycelium_node(NAME, EXTRA_CONF...): mycelium_cluster with the extension
# created, the test executors installed, and roles alice (LOGIN,
# mycelium_user) and bob.
sub mycelium_node
{
	my $node = mycelium_cluster(@_);
	$node->safe_psql('postgres', q{
		CREATE EXTENSION mycelium;
		CREATE ROLE alice LOGIN IN ROLE mycelium_user;
		CREATE ROLE bob LOGIN IN ROLE mycelium_user;
		-- what every attempt did, written by the attempt itself (so only
		-- attempts that completed leave a row: their writes commit with them)
		CREATE TABLE public.effects (
			workflow_id uuid, task_id text, attempt int, who name,
			slot int, started timestamptz, ended timestamptz,
			previous jsonb);
		GRANT ALL ON public.effects TO PUBLIC;
		-- the test executor: input {"sleep": s, "fail_times": n}
		CREATE FUNCTION public.test_exec(ctx jsonb) RETURNS jsonb
		LANGUAGE plpgsql AS $$
		DECLARE
			t0 timestamptz := clock_timestamp();
			slot int;
		BEGIN
			IF (ctx->>'attempt')::int <= coalesce((ctx->'task'->'input'->>'fail_times')::int, 0) THEN
				RAISE EXCEPTION 'planned failure of attempt %', ctx->>'attempt';
			END IF;
			-- the lowest free slot: how many attempts run at once
			FOR i IN 1 .. 100 LOOP
				IF pg_try_advisory_lock(4242, i) THEN slot := i; EXIT; END IF;
			END LOOP;
			PERFORM pg_sleep(coalesce((ctx->'task'->'input'->>'sleep')::float8, 0));
			PERFORM pg_advisory_unlock(4242, slot);
			INSERT INTO public.effects VALUES ((ctx->>'workflow_id')::uuid,
				ctx->'task'->>'task_id', (ctx->>'attempt')::int, current_user,
				slot, t0, clock_timestamp(), ctx->'previous_results');
			RETURN jsonb_build_object('task', ctx->'task'->>'task_id', 'slot', slot);
		END $$;
		GRANT EXECUTE ON FUNCTION public.test_exec(jsonb) TO PUBLIC;
		SELECT mycelium.register_executor('test', 'public.test_exec(jsonb)');
	});
	return $node;
}

# wait_for_status(NODE, WORKFLOW_ID, STATUS, TIMEOUT_S, DATABASE): polls
# until the workflow (in DATABASE, "postgres" if not given) has the status;
# returns whether it did in time.
sub wait_for_status
{
	my ($node, $wf, $status, $timeout, $db) = @_;
	$timeout //= 60;
	$db //= 'postgres';
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		my $s = $node->safe_psql($db,
			"SELECT status FROM mycelium.workflows WHERE workflow_id = '$wf'");
		return 1 if $s eq $status;
		usleep(50_000);
	}
	return 0;
}

1;
