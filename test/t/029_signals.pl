# Signal tasks with real workers and restarts (issue 31): a waiting signal
# task holds no worker and is not polled; its deadline is in the catalog,
# so it passes after a restart (failing the task, or completing it with its
# default), within a second or so of its time and never before; a task
# waiting without a deadline, and a signal kept for a task not waiting yet,
# survive a restart too, and a signal completes the task and its
# dependents run with the payload.  (The SQL API and its errors are in
# sql/signals.sql, racing signals in the isolation spec signal_race.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('signals');

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub as_alice { return sql("SET ROLE alice; $_[0]"); }

# wait_armed(WF, TASK): waits until the launcher saw the task wait (its
# run_after, the deadline, is set); returns whether it did in 30 s
sub wait_armed
{
	my ($wf, $task) = @_;
	for (1 .. 600)
	{
		return 1 if sql(qq{SELECT next_attempt_at IS NOT NULL FROM mycelium.tasks
			WHERE workflow_id = '$wf' AND task_id = '$task'}) eq 't';
		usleep(50_000);
	}
	return 0;
}

# --- deadlines across a restart: one fails its task, one completes it
# with its default result; a third task waits with no deadline
my $fail = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('prep', 'a', 'test'),
	mycelium.signal_task('approve', 'approval', dependencies => '{prep}', deadline => '8 s'),
	mycelium.task('after', 'a', 'test', dependencies => '{approve}')))});
my $dflt = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('approve', 'approval', deadline => '8 s',
		default_result => '{"approved": false}'),
	mycelium.task('after', 'a', 'test', dependencies => '{approve}')))});
my $open = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('approve', 'approval'),
	mycelium.task('after', 'a', 'test', dependencies => '{approve}')))});
# a signal kept for a workflow that has not started
my $early = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('first', 'a', 'test'),
	mycelium.signal_task('gate', 'go', dependencies => '{first}'),
	mycelium.task('then', 'a', 'test', dependencies => '{gate}')))});
is(as_alice(qq{SELECT mycelium.signal('$early', 'go', '{"early": 1}')}), '0',
	'a signal sent before its workflow starts is kept');

as_alice(qq{SELECT mycelium.start_workflow(id) FROM unnest('{$fail,$dflt,$open}'::uuid[]) id});
ok(wait_armed($fail, 'approve') && wait_armed($dflt, 'approve') && wait_armed($open, 'approve'),
	'the launcher sees the signal tasks wait');
is(sql(qq{SELECT count(*) FROM mycelium.tasks WHERE workflow_id = '$open'
	AND task_id = 'approve' AND next_attempt_at = 'infinity'}), '1',
	'a task without a deadline waits until infinity');
my $fail_at = sql(qq{SELECT extract(epoch FROM next_attempt_at) FROM mycelium.tasks
	WHERE workflow_id = '$fail' AND task_id = 'approve'});
my $dflt_at = sql(qq{SELECT extract(epoch FROM next_attempt_at) FROM mycelium.tasks
	WHERE workflow_id = '$dflt' AND task_id = 'approve'});

# --- a waiting workflow holds no worker and is not polled
my $before = sql(qq{SELECT string_agg(xmin::text || ':' || version, ',') FROM mycelium.workflow_states
	WHERE workflow_id IN ('$open')});
my $tbefore = sql(qq{SELECT xmin FROM mycelium.task_states WHERE workflow_id = '$open' AND task_id = 'approve'});
sleep 2;
is(sql(qq{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'mycelium: workflow $open%'}), '0',
	'no worker runs anything of a workflow waiting for a signal');
is(sql(qq{SELECT string_agg(xmin::text || ':' || version, ',') FROM mycelium.workflow_states
	WHERE workflow_id IN ('$open')}), $before, 'the waiting workflow is not written while it waits');
is(sql(qq{SELECT xmin FROM mycelium.task_states WHERE workflow_id = '$open' AND task_id = 'approve'}),
	$tbefore, 'nor is its waiting task');

is(sql(qq{SELECT string_agg(status::text, ',') FROM mycelium.tasks
	WHERE workflow_id IN ('$fail', '$dflt') AND task_id = 'approve'}), 'ready,ready',
	'both still wait when the server stops');
$node->restart;
my $started = sql(q{SELECT extract(epoch FROM pg_postmaster_start_time())});
cmp_ok($fail_at, '>', $started, 'the deadline comes after the restart');

ok(wait_for_status($node, $fail, 'failed', 60), 'after the restart the deadline fails the task and the workflow');
ok(wait_for_status($node, $dflt, 'completed', 60), 'and the default variant completes');
my ($type, $done) = split /\|/, sql(qq{SELECT error_detail->>'error_type', extract(epoch FROM finished_at)
	FROM mycelium.tasks WHERE workflow_id = '$fail' AND task_id = 'approve'});
is($type, 'deadline', 'error_type deadline');
cmp_ok($done, '>=', $fail_at, 'the deadline did not pass early');
cmp_ok($done - $fail_at, '<', 3, sprintf('it passed soon after its time (%.2f s)', $done - $fail_at));
is(sql(qq{SELECT status FROM mycelium.tasks WHERE workflow_id = '$fail' AND task_id = 'after'}), 'skipped',
	'the dependent of the failed task is skipped');
($done) = sql(qq{SELECT extract(epoch FROM finished_at) FROM mycelium.tasks
	WHERE workflow_id = '$dflt' AND task_id = 'approve'});
cmp_ok($done, '>=', $dflt_at, 'the default deadline did not pass early');
is(sql(qq{SELECT previous->0->'result' FROM public.effects WHERE workflow_id = '$dflt' AND task_id = 'after'}),
	'{"approved": false}', 'the dependent ran with the default result');

# --- the task without a deadline still waits; a signal completes it
is(sql(qq{SELECT status FROM mycelium.tasks WHERE workflow_id = '$open' AND task_id = 'approve'}), 'ready',
	'a task without a deadline still waits after the restart');
my ($ret, $out, $err) = $node->psql('postgres', qq{SET ROLE bob; SELECT mycelium.signal('$open', 'approval')});
like($err, qr/workflow \S+ does not exist/, "bob's signal is refused");
is(sql(qq{SELECT status FROM mycelium.tasks WHERE workflow_id = '$open' AND task_id = 'approve'})
	. ',' . sql(qq{SELECT count(*) FROM mycelium.workflow_signals WHERE workflow_id = '$open'}),
	'ready,0', "bob's signal changed nothing");
is(as_alice(qq{SELECT mycelium.signal('$open', 'approval', '{"approved": true}')}), '1',
	"alice's signal completes it");
ok(wait_for_status($node, $open, 'completed', 60), 'and the workflow completes');
is(sql(qq{SELECT previous->0->'result' FROM public.effects WHERE workflow_id = '$open' AND task_id = 'after'}),
	'{"approved": true}', 'its dependent ran with the payload in previous_results');

# --- the kept signal survived the restart and is delivered when its task
# starts waiting, without a worker or the launcher's next nap
as_alice(qq{SELECT mycelium.start_workflow('$early')});
ok(wait_for_status($node, $early, 'completed', 60), 'the workflow with the kept signal completes');
my $gap = sql(qq{SELECT extract(epoch FROM g.finished_at - f.finished_at) FROM mycelium.tasks f, mycelium.tasks g
	WHERE f.workflow_id = '$early' AND f.task_id = 'first' AND g.workflow_id = '$early' AND g.task_id = 'gate'});
cmp_ok($gap, '<', 2, sprintf('the kept signal was delivered %.3f s after its task started waiting', $gap));
is(sql(qq{SELECT previous->0->'result' FROM public.effects WHERE workflow_id = '$early' AND task_id = 'then'}),
	'{"early": 1}', 'the dependent ran with the kept payload');

# --- paused: a deadline does not pass while the workflow is paused, and
# passes when it resumes
my $paused = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('approve', 'approval', deadline => '1 s')))});
as_alice(qq{SELECT mycelium.start_workflow('$paused')});
ok(wait_armed($paused, 'approve'), 'the paused test task waits');
as_alice(qq{SELECT mycelium.pause_workflow('$paused')});
sleep 2;
is(sql(qq{SELECT status FROM mycelium.tasks WHERE workflow_id = '$paused' AND task_id = 'approve'}), 'ready',
	'a deadline does not pass while its workflow is paused');
as_alice(qq{SELECT mycelium.resume_workflow('$paused')});
ok(wait_for_status($node, $paused, 'failed', 30), 'it passes once the workflow resumes');

$node->stop;
done_testing();
