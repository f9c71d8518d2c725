# Schedules with the real pg_cron: pg_cron itself starts template runs, as
# the role that scheduled them, and they complete; the overlap rule skips
# a tick while the last run of the same schedule is still going, and
# "allow" starts one anyway.  pg_cron 1.5 and later take schedules in
# seconds; older versions (Debian 12 ships 1.4) tick once a minute, so
# this test then waits up to two minutes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('cron',
	"shared_preload_libraries = 'mycelium, pg_cron'",
	"cron.database_name = 'postgres'",
	# jobs run in background workers: no connection over TCP needed
	"cron.use_background_workers = on",
	"max_worker_processes = 32");

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_cron;
	GRANT USAGE ON SCHEMA cron TO alice;
	SET ROLE alice;
	SELECT mycelium.create_template('quick', jsonb_build_array(
		mycelium.task('a', 'x', 'test'),
		mycelium.task('b', 'x', 'test', dependencies => '{a}')),
		variables => '{"who": "template"}');
	-- its one task waits for an external agent: the run stays running
	SELECT mycelium.register_executor('outside', NULL);
	SELECT mycelium.create_template('slow', jsonb_build_array(mycelium.task('gate', 'g', 'outside')));
});

# seconds if this pg_cron takes them, else every minute
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.schedule_workflow('quick-job', '2 seconds', 'quick', '{"who": "cron"}');});
my $schedule = '2 seconds';
if ($ret != 0)
{
	like($err, qr/invalid schedule/, 'this pg_cron has no seconds schedules: ticks each minute');
	$schedule = '* * * * *';
	$node->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.schedule_workflow('quick-job', '$schedule', 'quick', '{"who": "cron"}');});
}
$node->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT mycelium.schedule_workflow('slow-job', '$schedule', 'slow');
	SELECT mycelium.schedule_workflow('slow-allow', '$schedule', 'slow', overlap => 'allow');});
is($node->safe_psql('postgres', q{
	SELECT string_agg(username || ' ' || command, ', ' ORDER BY jobname) FROM cron.job}),
	"alice SELECT mycelium.run_schedule('quick-job'), "
	  . "alice SELECT mycelium.run_schedule('slow-allow'), "
	  . "alice SELECT mycelium.run_schedule('slow-job')",
	'three pg_cron jobs of alice');

# pg_cron starts the quick template, and the workflow completes
$node->poll_query_until('postgres', q{
	SELECT last_workflow_status = 'completed' FROM mycelium.schedules WHERE job_name = 'quick-job'})
  or die 'pg_cron did not start a run that completed';
my $wf = $node->safe_psql('postgres',
	"SELECT last_workflow_id FROM mycelium.schedules WHERE job_name = 'quick-job'");
is($node->safe_psql('postgres', qq{
	SELECT name || ' ' || owner || ' ' || status FROM mycelium.workflows WHERE workflow_id = '$wf'}),
	'quick alice completed', 'the scheduled run is a workflow of alice from the template');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(task_id || ':' || who, ',' ORDER BY task_id) FROM public.effects
	 WHERE workflow_id = '$wf'}),
	'a:alice,b:alice', 'its tasks ran, as alice');
is($node->safe_psql('postgres', qq{
	SELECT variables->>'who' FROM mycelium.workflow_states WHERE workflow_id = '$wf'}),
	'cron', "the schedule's variables reached the workflow");
ok($node->safe_psql('postgres', q{
	SELECT count(*) > 0 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	 WHERE j.jobname = 'quick-job' AND d.status = 'succeeded'}) eq 't',
	'pg_cron recorded the run as succeeded');

# overlap: a later tick of slow-job finds its first run still going
$node->poll_query_until('postgres', q{
	SELECT skipped_runs > 0 FROM mycelium.schedules WHERE job_name = 'slow-job'})
  or die 'no tick of slow-job was skipped';
is($node->safe_psql('postgres', q{
	SELECT runs || ' ' || last_workflow_status FROM mycelium.schedules WHERE job_name = 'slow-job'}),
	'1 running', 'slow-job started one run and skipped while it ran');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM mycelium.workflows WHERE name = 'slow' AND status = 'running'
	   AND workflow_id IN (SELECT last_workflow_id FROM mycelium.schedules WHERE job_name = 'slow-job')}),
	'1', 'its one run is still running');
ok($node->log_contains(qr/mycelium schedule "slow-job" of role "alice" skipped a run/),
	'the skip is in the server log');
$node->poll_query_until('postgres', q{
	SELECT runs >= 2 AND skipped_runs = 0 FROM mycelium.schedules WHERE job_name = 'slow-allow'})
  or die 'slow-allow did not start a second run';
pass('with overlap "allow" a second run starts while the first is still going');

# unscheduling removes the pg_cron jobs
$node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.unschedule_workflow('quick-job');
	SELECT mycelium.unschedule_workflow('slow-job');
	SELECT mycelium.unschedule_workflow('slow-allow');});
is($node->safe_psql('postgres', 'SELECT count(*) FROM cron.job'), '0', 'no pg_cron job is left');

done_testing();
