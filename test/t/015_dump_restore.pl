# pg_dump and pg_restore carry mycelium's catalog to another server: the
# restored catalog is the dumped one, row for row, and its workflows go
# on there.  An external agent's claim still holds; an attempt that a
# worker of the old server was running is counted as lost and retried
# (the new server runs fewer workers); a paused workflow resumes; a
# template starts new workflows; handoffs still reach their targets.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $source = mycelium_node('source');

$source->safe_psql('postgres', q{
	-- sleeps through its first attempt, so that one is running at the dump
	CREATE FUNCTION public.sleep_first(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		IF (ctx->>'attempt')::int = 1 THEN
			PERFORM pg_sleep(300);
		END IF;
		RETURN public.test_exec(ctx);
	END $$;
	GRANT EXECUTE ON FUNCTION public.sleep_first(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('sleep_first', 'public.sleep_first(jsonb)');
	SELECT mycelium.register_executor('outside', NULL);
});

# one workflow of each kind, all alice's
my $done = $source->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('a', 'a', 'test'),
		mycelium.task('b', 'b', 'test', dependencies => '{a}')), name => 'done');});
$source->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.execute_workflow('$done')");
my $mixed = $source->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('e1', 'agent', 'outside'),
		mycelium.task('e2', 'agent', 'outside'),
		mycelium.task('f', 'merger', 'test', dependencies => '{e1,e2}')), name => 'mixed');});
$source->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT mycelium.start_workflow('$mixed');
	SELECT mycelium.send_handoff('$mixed',
		mycelium.create_handoff('agent', 'outside', 'merger', 'test', 'merge both'));});
is($source->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT task_id FROM mycelium.claim_tasks('outside', 'agent-1', 1, lease => '1 hour')}),
	'e1', 'an external agent holds e1 at the dump');
my $slow = $source->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('s', 'a', 'sleep_first', initial_delay => 0.1)), name => 'slow');});
$source->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$slow')");
my $paused = $source->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('p1', 'a', 'test', input => '{"sleep": 0.2}'),
		mycelium.task('p2', 'a', 'test', dependencies => '{p1}')), name => 'paused');});
$source->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT mycelium.start_workflow('$paused');
	SELECT mycelium.pause_workflow('$paused');
	SELECT mycelium.create_template('one', jsonb_build_array(mycelium.task('t', 'a', 'test')));});
$source->poll_query_until('postgres', qq{
	SELECT status = 'running' FROM mycelium.task_states WHERE workflow_id = '$slow'})
  or die 'the slow task did not start';
# (paused before p1 started, or after: then once p1 has finished)
$source->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM mycelium.task_states
	 WHERE workflow_id = '$paused' AND status = 'running'})
  or die 'the paused workflow did not finish its running task';
is($source->safe_psql('postgres', qq{
	SELECT status FROM mycelium.workflows WHERE workflow_id = '$paused'}),
	'paused', 'a workflow is paused at the dump');
my $holder = $source->safe_psql('postgres', qq{
	SELECT worker_id FROM mycelium.task_states WHERE workflow_id = '$slow'});

# what the catalog holds, row by row, in a form both servers print alike,
# but for the slow workflow, whose lost attempt the new server records
my $fingerprint = join(' UNION ALL ', map {
	my ($table, $filter) = @$_;
	"SELECT '$table', count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
	  . "FROM $table x" . ($filter ? " WHERE x.workflow_id <> '$slow'" : '')
} ([ 'mycelium.executors', 0 ], [ 'mycelium.workflow_states', 1 ], [ 'mycelium.task_states', 1 ],
	[ 'mycelium.task_ids', 1 ], [ 'mycelium.workflow_state_history', 1 ], [ 'mycelium.handoffs', 1 ],
	[ 'mycelium.workflow_templates', 0 ], [ 'mycelium.workflow_schedules', 0 ],
	[ 'public.effects', 1 ]));

# the roles first (pg_dumpall --globals-only), then the database; the
# source keeps running, its slow attempt still sleeping
my $dir = PostgreSQL::Test::Utils::tempdir;
$source->command_ok([ 'pg_dumpall', '--globals-only', '-f', "$dir/globals.sql" ],
	'pg_dumpall --globals-only');
$source->command_ok([ 'pg_dump', '-Fc', '-f', "$dir/db.dump", 'postgres' ], 'pg_dump');
my $before = $source->safe_psql('postgres', $fingerprint);
$source->stop('immediate');

# a server with 2 workers, serving the database restored into
my $target = mycelium_cluster('target', "mycelium.database = 'restored'", 'mycelium.max_workers = 2');
$target->command_ok([ 'psql', '-X', '-q', '-f', "$dir/globals.sql", 'postgres' ],
	'the roles are restored');
$target->safe_psql('postgres', 'CREATE DATABASE restored');
$target->command_ok([ 'pg_restore', '--single-transaction', '--exit-on-error',
	'-d', 'restored', "$dir/db.dump" ], 'pg_restore --single-transaction');

sub restored { return $target->safe_psql('restored', $_[0]); }

# nothing else moves until the agents and alice act
is(restored($fingerprint), $before, 'the restored catalog is the dumped one, row for row');
like($before, qr/^mycelium\.workflow_state_history\|[1-9]/m, '(and the dump held history)');

# the scheduler goes on: the slow attempt of a worker this server may not
# run is counted as lost and retried, and completes
wait_restored($slow, 'completed');
like(restored(qq{SELECT string_agg(error, ',') FROM mycelium.workflow_history('$slow') WHERE error IS NOT NULL}),
	qr/attempt 1 was lost: its worker (does not run on this server|stopped)/,
	"the attempt that $holder was running at the dump counted as lost");
is(restored(qq{SELECT attempt FROM mycelium.task_states WHERE workflow_id = '$slow'}), '2',
	'and the task completed on its second attempt');

# the external agent's claim holds: its completion is taken; another
# agent takes e2; f then runs, as alice, with both results and the handoff
is(restored(qq{SET ROLE alice;
	SELECT mycelium.complete_task('$mixed', 'e1', 'agent-1', '{"n": 1}')}),
	'completed', 'the agent that held e1 completes it on the new server');
is(restored(q{SET ROLE alice;
	SELECT task_id FROM mycelium.claim_tasks('outside', 'agent-2', 5)}),
	'e2', 'another agent claims e2');
restored(qq{SET ROLE alice; SELECT mycelium.complete_task('$mixed', 'e2', 'agent-2', '{"n": 2}')});
wait_restored($mixed, 'completed');
is(restored(qq{
	SELECT who || ' ' || (SELECT string_agg(p->>'task_id' || '=' || (p->'result'->>'n'), ',' ORDER BY p->>'task_id')
		FROM jsonb_array_elements(previous) p)
	  FROM effects WHERE workflow_id = '$mixed' AND task_id = 'f'}),
	'alice e1=1,e2=2', 'f ran as alice and saw both results');

# the paused workflow resumes; the template starts a new workflow
restored(qq{SET ROLE alice; SELECT mycelium.resume_workflow('$paused')});
wait_restored($paused, 'completed');
my $new = restored(q{SET ROLE alice; SELECT mycelium.start_from_template('one')});
wait_restored($new, 'completed');
is(restored(qq{SELECT string_agg(DISTINCT status::text, ',') FROM mycelium.workflows}),
	'completed', 'every workflow completed on the new server');

$target->stop;
done_testing();

# wait_restored(ID, STATUS): waits for workflow ID of the restored
# database to reach STATUS, as a test
sub wait_restored
{
	my ($wf, $status) = @_;
	ok(wait_for_status($target, $wf, $status, 180, 'restored'), "workflow $wf reaches $status");
}
