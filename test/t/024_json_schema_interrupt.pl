# A JSON Schema validation that would run for about a minute ends within
# moments of statement_timeout, pg_cancel_backend and pg_terminate_backend
# in a session, and, as an executor's output_schema in a scheduler worker,
# of the task's timeout and of cancel_workflow -- and the worker goes on
# serving.  (Before issue 27 nothing but kill -9 stopped such a check.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# one worker, so that "the worker goes on serving" means this one; the
# budget as high as it goes, so that only an interrupt ends the checks
my $node = mycelium_node('json_schema_interrupt', 'mycelium.max_workers = 1',
	'mycelium.json_schema_max_steps = 2147483647');

# every item must be one of 20,000 strings: 100,000 items of the last one
# take 2 * 10^9 steps (some 50 s; the budget ends it at 2^31 steps); the
# executor's result, 50,000 of them, 10^9 steps
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.wide(k int) RETURNS jsonb
	LANGUAGE sql AS $$
		SELECT jsonb_build_object('items', jsonb_build_object('anyOf',
			jsonb_agg(jsonb_build_object('const', 'v' || i))))
		  FROM generate_series(1, k) AS i $$;
	CREATE TABLE public.slow AS
		SELECT public.wide(20000) AS schema,
			   (SELECT jsonb_agg('v20000'::text) FROM generate_series(1, 100000)) AS instance;
	GRANT SELECT ON public.slow TO PUBLIC;
	CREATE FUNCTION public.big_result(ctx jsonb) RETURNS jsonb
	LANGUAGE sql AS $$ SELECT jsonb_agg('v20000'::text) FROM generate_series(1, 50000) $$;
	GRANT EXECUTE ON FUNCTION public.big_result(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('slow_check', 'public.big_result(jsonb)', public.wide(20000));
});

my $validate = 'SELECT mycelium.json_schema_validate(schema, instance) FROM public.slow';

# a small validation first: the schema is fine, only the size makes it slow
is($node->safe_psql('postgres',
		q{SELECT mycelium.json_schema_validate(public.wide(20000), '["v20000", "v1"]')}),
	't', 'the schema validates a small instance at once');

# statement_timeout
my $t0 = time;
my ($ret, $out, $err) = $node->psql('postgres', "SET statement_timeout = '1s'; $validate");
my $elapsed = time - $t0;
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout ends the validation');
cmp_ok($elapsed, '<', 5, "within moments of the timeout ($elapsed s)");

# start_validation(NAME): runs the slow validation in a session of its own
# (application_name NAME); returns the harness, its stderr and the
# session's pid once the validation is under way
sub start_validation
{
	my ($name) = @_;
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres') . " application_name=$name",
		  '-c', $validate ],
		'>', \$o, '2>', \$e);
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE application_name = '$name' AND state = 'active'
		   AND query LIKE '%json_schema_validate%'})
	  or die "the validation of $name did not start";
	# let it get into the validation proper
	sleep 1;
	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE application_name = '$name'");
	return ($h, \$e, $pid);
}

# pg_cancel_backend
my ($h, $errref, $pid) = start_validation('cancelled');
$t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
$elapsed = time - $t0;
like($$errref, qr/canceling statement due to user request/, 'pg_cancel_backend ends the validation');
cmp_ok($elapsed, '<', 5, "within moments ($elapsed s)");

# pg_terminate_backend
($h, $errref, $pid) = start_validation('terminated');
$t0 = time;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$h->finish;
$elapsed = time - $t0;
like($$errref, qr/terminating connection due to administrator command/,
	'pg_terminate_backend ends the session');
cmp_ok($elapsed, '<', 5, "within moments ($elapsed s)");
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid"),
	'0', 'the backend is gone');

# quick_workflow_completes(WHAT): the worker still serves: a workflow of
# the quick test executor completes
sub quick_workflow_completes
{
	my ($what) = @_;
	my $wf = $node->safe_psql('postgres', q{
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('quick', 'a', 'test')))});
	$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
	ok(wait_for_status($node, $wf, 'completed', 30), "the worker goes on serving after $what");
}

# an executor's output_schema check, ended by the task's timeout
my $wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('checked', 'a', 'slow_check', max_attempts => 1, timeout => 1)))});
$t0 = time;
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'failed', 60), 'the task whose result takes long to check fails');
$elapsed = time - $t0;
cmp_ok($elapsed, '<', 5, "within moments of its 1 s timeout ($elapsed s)");
is($node->safe_psql('postgres', "SELECT error FROM mycelium.tasks WHERE workflow_id = '$wf'"),
	'task timed out after 1 s', 'the error says it timed out');
quick_workflow_completes('a timeout');

# ... and by cancel_workflow
$wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('checked', 'a', 'slow_check', max_attempts => 1)))});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "checked"%'})
  or die 'the task did not start';
# the executor returns at once; the check of its result is then under way
sleep 1;
$t0 = time;
$node->safe_psql('postgres', "SELECT mycelium.cancel_workflow('$wf', 'stop checking')");
ok(wait_for_status($node, $wf, 'cancelled', 60), 'cancel_workflow cancels it');
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "checked"%' AND state = 'active'})
  or die 'the check still runs';
$elapsed = time - $t0;
cmp_ok($elapsed, '<', 5, "the check was interrupted within moments ($elapsed s)");
is($node->safe_psql('postgres', "SELECT status FROM mycelium.tasks WHERE workflow_id = '$wf'"),
	'cancelled', 'the task is cancelled');
quick_workflow_completes('a cancel');

$node->stop;
done_testing();
