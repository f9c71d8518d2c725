# The scheduler's plans do not depend on when the statistics were taken.
#
# Its statements run as kept generic plans.  Planned after an ANALYZE
# that saw no ready task (a quiet moment, as autovacuum often finds), the
# claim of a workflow's ready tasks took the external agents' index
# (agent type first), then read and sorted every ready task of the server
# at each claim, and the check for workflows with ready tasks read all of
# that index for each workflow without one: 20,000 no-op tasks ran 2-3
# times slower after a VACUUM ANALYZE than before it.  The agents'
# index (task_states_rank_idx) now has a predicate only their statements
# state, so the scheduler's claims cannot take it.  So with the running
# tasks' index, which the read of a
# batch's claimed tasks scanned whole (every running task of the server,
# and the dead entries of all that ran since the last vacuum) instead of
# probing the primary key; and the check whether a workflow has ready
# tasks, planned after many small workflows, became a merge join that
# read and sorted all of a large workflow's ready tasks.  The plans are read from auto_explain's log,
# in the workers and in a session's claim_tasks.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# no autovacuum: the statistics stay what the test makes them
my $node = mycelium_node('plans', 'autovacuum = off',
	"shared_preload_libraries = 'mycelium,auto_explain'",
	'auto_explain.log_min_duration = 0',
	'auto_explain.log_nested_statements = on');
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.noop(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql
		AS 'BEGIN RETURN NULL; END';
	SELECT mycelium.register_executor('noop', 'public.noop(jsonb)');
	SELECT mycelium.register_executor('outside', NULL);});

# runs a started workflow of $n no-op tasks to its end
sub run_noop
{
	my ($n) = @_;
	my $wf = $node->safe_psql('postgres', qq{
		SELECT mycelium.create_workflow(
			(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'noop'))
			   FROM generate_series(1, $n) i))});
	$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
	ok(wait_for_status($node, $wf, 'completed', 120), "$n no-op tasks complete");
}

# statistics taken when no task is ready (all ended), then new processes,
# whose statements are planned on them
run_noop(5000);
# runs $n started diamonds of 20 no-op tasks (a root, 18 in parallel, a
# sink) to their end
sub run_diamonds
{
	my ($n) = @_;
	my $ids = $node->safe_psql('postgres', qq{
		SELECT array_agg(mycelium.create_workflow(
			(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'noop',
				dependencies => CASE WHEN i = 1 THEN '{}'::text[]
									 WHEN i = 20 THEN ARRAY(SELECT 't' || k FROM generate_series(2, 19) k)
									 ELSE '{t1}' END) ORDER BY i)
			   FROM generate_series(1, 20) i)))
		  FROM generate_series(1, $n)});
	$node->safe_psql('postgres', qq{SELECT count(mycelium.start_workflow(id)) FROM unnest('$ids'::uuid[]) id});
	ok($node->poll_query_until('postgres', qq{
		SELECT count(*) = $n FROM mycelium.workflows
		 WHERE workflow_id = ANY ('$ids'::uuid[]) AND status = 'completed'}), "$n diamonds complete");
}

# and many small workflows, as a batch of diamonds leaves
run_diamonds(300);
$node->safe_psql('postgres', 'VACUUM ANALYZE');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM mycelium.task_states WHERE status = 'ready'}),
	'0', 'the statistics were taken with no task ready');
$node->restart;
my $offset = -s $node->logfile;

run_noop(2000);
# diamonds again: their completions release tasks a step holds to claim
run_diamonds(30);
my $ext = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('x' || i, 'a', 'outside'))
		   FROM generate_series(1, 50) i))});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$ext')");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-1', 5)}),
	'5', 'an external agent claims its tasks');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-2', 1)}),
	'1', 'an external agent claims one task');

# the plans auto_explain logged since the restart, by their statement
my $log = slurp_file($node->logfile, $offset);
my @plans = split /LOG:  duration: /, $log;
my @claims = grep { /Query Text: WITH w AS/ && /SET status = 'running'/ } @plans;
my @checks = grep { /Query Text: SELECT i\.id FROM pg_catalog\.unnest/ } @plans;
my @batches = grep { /Query Text: SELECT c\.n, t\.workflow_id, t\.attempt/ } @plans;
my @agent_scans = grep { /Query Text: SELECT t\.workflow_id,/ && /ORDER BY t\.ready_rank/ } @plans;
my @first_free = grep { /Query Text: SELECT w\.owner/ && /lag\(t\.workflow_id\)/ } @plans;
my @claim_one = grep { /Query Text: WITH c AS/ && /'claimed by '/ } @plans;
my @holds = grep { /Query Text: WITH/ && /released AS/ && /PARTITION BY r\.workflow_id/ } @plans;
cmp_ok(scalar @claims, '>', 0, 'the claims of ready tasks were logged (' . scalar(@claims) . ')');
is(scalar(grep { /task_states_(claim|rank)_idx/ } @claims), 0,
	"no claim of a workflow's ready tasks reads the agents' indexes");
cmp_ok(scalar(grep { /task_states_ready_idx/ } @claims), '==', scalar @claims,
	"every claim reads the workflow's ready tasks in task order");
cmp_ok(scalar @checks, '>', 0,
	'the checks for workflows with ready tasks were logged (' . scalar(@checks) . ')');
is(scalar(grep { /task_states_(claim|rank)_idx/ } @checks), 0,
	"no check for a workflow's ready tasks reads the agents' indexes");
is(scalar(grep { /(Merge|Hash) (Semi )?Join/ } @checks), 0,
	"every check for a workflow's ready tasks stops at its first one (no join over all of them)");
cmp_ok(scalar @batches, '>', 0,
	"the reads of a batch's claimed tasks were logged (" . scalar(@batches) . ')');
is(scalar(grep { /task_states_running_idx/ } @batches), 0,
	"no read of a batch's claimed tasks scans every running task");
cmp_ok(scalar @agent_scans, '>', 0, "claim_tasks' search by agent type was logged");
is(scalar(grep { !/task_states_rank_idx/ } @agent_scans), 0,
	"claim_tasks' search by agent type reads the agents' index in rank order");
# a claim of one task tries the workflows in rank order, one by one, as it
# walks the index: a sort would first lock every workflow it looked at
cmp_ok(scalar @first_free, '>', 0, "a one-task claim's search was logged");
is(scalar(grep { !/task_states_rank_idx/ || /\bSort\b/ } @first_free), 0,
	"a one-task claim's search walks the agents' index in rank order, unsorted");
cmp_ok(scalar @claim_one, '>', 0, "a one-task claim was logged");
is(scalar(grep { !/task_states_ready_idx/ || /task_states_(claim|rank)_idx/ } @claim_one), 0,
	"a one-task claim reads its workflow's ready tasks in task order");

# the tasks a step holds, of those its completions release, are chosen
# once per statement: planned after that ANALYZE, the choice (a window over
# the released tasks) was inlined into the release's join and sorted all
# released tasks again for each of them (1,000 diamonds ran at half speed)
cmp_ok(scalar @holds, '>', 0, "the records that release tasks to hold were logged (" . scalar(@holds) . ')');
is(scalar(grep { !/CTE hold/ } @holds), 0,
	'every record chooses the tasks to hold once, before the release');

$node->stop;
done_testing();
