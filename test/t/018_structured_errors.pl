# Structured errors: a task's and a workflow's error_detail
# ({error_type, message, sqlstate, attempt}) is filled by every path that
# ends an attempt (an executor's error, a timeout, an external agent's
# fail_task, a lapsed lease, cancel_workflow), earlier attempts' errors
# stay in the history, and each attempt's execution time is recorded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('errors');
$node->safe_psql('postgres', "SELECT mycelium.register_executor('outside', NULL)");

sub sql { return $node->safe_psql('postgres', $_[0]); }

# --- a timeout, and the workflow it fails
my $wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('slow', 'a', 'test', input => '{"sleep": 5}', timeout => 0.3, max_attempts => 1)))});
sql("SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'failed', 60), 'the timed-out workflow fails');
is(sql(qq{SELECT error_detail - 'message' FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	'{"attempt": 1, "sqlstate": "57014", "error_type": "timeout"}',
	"a timeout's error_type is timeout, with the attempt and SQLSTATE");
is(sql(qq{SELECT error_detail->>'message' = error FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	't', 'its message is the error text');
is(sql(qq{SELECT error_detail FROM mycelium.workflows WHERE workflow_id = '$wf'}),
	'{"message": "task \"slow\" failed: task timed out after 0.3 s", "error_type": "task_failed"}',
	"the workflow's error_detail says a task failed it");
cmp_ok(sql(qq{SELECT execution_time FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	'>=', 250, 'the execution time of the timed-out attempt is recorded (ms)');

# --- retried, then successful: the first attempt's error stays in history
$wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('flaky', 'a', 'test', input => '{"fail_times": 1, "sleep": 0.1}',
				  max_attempts => 2, initial_delay => 0)))});
sql("SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 60), 'the retried workflow completes');
is(sql(qq{SELECT error_detail IS NULL AND error IS NULL FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	't', 'the completed task has no error');
is(sql(qq{SELECT error_detail FROM mycelium.workflow_history('$wf') WHERE status = 'ready'}),
	'{"attempt": 1, "message": "planned failure of attempt 1", "sqlstate": "P0001", "error_type": "exception"}',
	'the failed attempt keeps its structured error in the history');
is(sql(qq{SELECT string_agg(outcome || ':' || (execution_time IS NOT NULL) || ':'
	|| coalesce(error_detail->>'error_type', '-'), ',' ORDER BY attempt)
	FROM mycelium.workflow_timeline('$wf')}),
	'retried:true:exception,completed:true:-', 'the timeline has both attempts, each with its execution time');
cmp_ok(sql(qq{SELECT execution_time FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	'>=', 90, "the task's execution time is its last attempt's (ms)");

# --- an external agent's fail_task, and a lapsed lease
$wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('ext', 'a', 'outside', max_attempts => 3, initial_delay => 0)))});
sql("SELECT mycelium.start_workflow('$wf')");
sql(q{SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-1')});
is(sql(qq{SELECT mycelium.fail_task('$wf', 'ext', 'agent-1', 'the model refused')}),
	'ready', 'fail_task fails the attempt');
is(sql(qq{SELECT error_detail FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	'{"attempt": 1, "message": "the model refused", "error_type": "agent_error"}',
	"fail_task's error: error_type agent_error, its text the message");
sql(q{SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-2', lease => '1 second')});
$node->poll_query_until('postgres', qq{
	SELECT error_detail->>'error_type' = 'lease_expired' FROM mycelium.tasks WHERE workflow_id = '$wf'})
  or die 'the lease did not lapse';
like(sql(qq{SELECT error_detail->>'message' || ' ' || (error_detail->>'attempt') FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	qr/^attempt 2 was lost: the lease of worker "agent-2" lapsed 2$/, "a lapsed lease's error_type is lease_expired");
cmp_ok(sql(qq{SELECT execution_time FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	'>=', 1000, "the lapsed attempt's execution time runs from its claim until it was taken back, past the lease");
is(sql(qq{SELECT execution_time = (SELECT execution_time FROM mycelium.workflow_history('$wf')
	WHERE error_detail->>'error_type' = 'lease_expired') FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	't', 'the history has the same time');
sql(q{SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-1')});
sql(qq{SELECT mycelium.complete_task('$wf', 'ext', 'agent-1', '{}')});
ok(defined sql(qq{SELECT execution_time FROM mycelium.tasks WHERE workflow_id = '$wf' AND execution_time >= 0}),
	"an external agent's completed attempt has its execution time");
is(sql(qq{SELECT string_agg(error_detail->>'error_type', ',' ORDER BY version)
	FROM mycelium.workflow_history('$wf') WHERE error_detail IS NOT NULL}),
	'agent_error,lease_expired', 'both failed attempts are in the history');

# --- cancel_workflow's reason
$wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('x', 'a', 'outside')))});
sql("SELECT mycelium.start_workflow('$wf')");
sql("SELECT mycelium.cancel_workflow('$wf', 'not needed')");
is(sql(qq{SELECT error_detail FROM mycelium.workflows WHERE workflow_id = '$wf'}),
	'{"message": "not needed", "error_type": "cancelled"}', "a cancelled workflow's error_type is cancelled");

done_testing();
