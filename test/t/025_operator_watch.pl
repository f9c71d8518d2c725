# What an operator watches (issue 31): the NOTIFY on mycelium_workflow_end
# once per workflow end (completed, failed, cancelled), with its payload;
# the log line of each failed attempt under mycelium.log_failed_attempts;
# agent_type_stats on a small known workload, per role; and the executor
# pool views from shared memory, per role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('watch', 'mycelium.log_failed_attempts = on');
$node->safe_psql('postgres', "SELECT mycelium.register_executor('outside', NULL)");

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub as_alice { return sql("SET ROLE alice; $_[0]"); }
sub as_bob { return sql("SET ROLE bob; $_[0]"); }

# --- NOTIFY mycelium_workflow_end, once per end, and the failed-attempt log
my $ok = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'a', 'test'), mycelium.task('b', 'a', 'test', dependencies => '{a}')))});
my $bad = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('bad "one"', 'a', 'test', input => '{"fail_times": 5}',
				  max_attempts => 2, initial_delay => 0)))});
my $gone = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('x', 'a', 'outside')))});
my $quiet = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('q', 'a', 'outside')))});
my $log_offset = -s $node->logfile;

my $unfinished = "SELECT CASE WHEN EXISTS (SELECT 1 FROM mycelium.workflows "
  . "WHERE workflow_id IN ('$ok', '$bad', '$gone') "
  . "AND status NOT IN ('completed', 'failed', 'cancelled')) THEN pg_sleep(0.1) END;\n";
my $script = "LISTEN mycelium_workflow_end;\n"
  . "SET ROLE alice;\n"
  . "SELECT mycelium.start_workflow('$ok');\n"
  . "SELECT mycelium.start_workflow('$bad');\n"
  . "SELECT mycelium.start_workflow('$gone');\n"
  . "SELECT mycelium.start_workflow('$quiet');\n"
  . "SELECT mycelium.cancel_workflow('$gone', 'not needed');\n"
  . ($unfinished x 600)
  # a paused workflow is not an end
  . "SELECT mycelium.pause_workflow('$quiet');\n"
  . "SELECT pg_sleep(0.5);\nSELECT 1;\nSELECT 1;\n";
my ($out, $err) = ('', '');
$node->psql('postgres', $script, stdout => \$out, stderr => \$err, on_error_die => 1);
my %seen;
for my $line (split /\n/, $out)
{
	$seen{$1}++ if $line =~ /^Asynchronous notification "mycelium_workflow_end" with payload "(.*)" received from server process/;
}
is($seen{qq({"workflow_id": "$ok", "status": "completed"})}, 1, 'one notification for the completed workflow');
is($seen{qq({"workflow_id": "$bad", "status": "failed"})}, 1, 'one notification for the failed workflow');
is($seen{qq({"workflow_id": "$gone", "status": "cancelled"})}, 1, 'one notification for the cancelled workflow');
is(scalar(keys %seen), 3, 'no other notification (a paused workflow has not ended)')
  or diag($out);

# an admin's rollback of an ended workflow and its end again notify again;
# a failed end that is rolled back (the transaction aborts) does not
$out = '';
$node->psql('postgres', "LISTEN mycelium_workflow_end;\n"
	. "BEGIN;\nSELECT mycelium.cancel_workflow('$quiet');\nROLLBACK;\nSELECT 1;\nSELECT 1;\n",
	stdout => \$out, on_error_die => 1);
unlike($out, qr/Asynchronous notification/, 'an end rolled back with its transaction notifies nobody');

my $log = slurp_file($node->logfile, $log_offset);
my @lines = grep { /mycelium: failed attempt:/ } split /\n/, $log;
is(scalar(grep { /workflow=$bad / } @lines), 2, 'one log line per failed attempt');
like($log, qr/LOG:  mycelium: failed attempt: workflow=$bad task="bad \\"one\\"" attempt=1 error_type="exception" outcome=retry$/m,
	'the first attempt: workflow, task (quoted), attempt, error type, a retry follows');
like($log, qr/LOG:  mycelium: failed attempt: workflow=$bad task="bad \\"one\\"" attempt=2 error_type="exception" outcome=failed$/m,
	'the last attempt: the task failed');

# an external agent's fail_task logs too, with its error type; off logs nothing
my $ext = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('e', 'a', 'outside', max_attempts => 3, initial_delay => 0)))});
as_alice("SELECT mycelium.start_workflow('$ext')");
$log_offset = -s $node->logfile;
as_alice(q{SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-1')});
as_alice(qq{SELECT mycelium.fail_task('$ext', 'e', 'agent-1', 'refused')});
$node->append_conf('postgresql.conf', 'mycelium.log_failed_attempts = off');
$node->reload;
as_alice(q{SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-1')});
as_alice(qq{SELECT mycelium.fail_task('$ext', 'e', 'agent-1', 'refused again')});
$log = slurp_file($node->logfile, $log_offset);
like($log, qr/failed attempt: workflow=$ext task="e" attempt=1 error_type="agent_error" outcome=retry/,
	"an agent's failed attempt is logged with its error type");
unlike($log, qr/failed attempt: workflow=$ext task="e" attempt=2/, 'with the setting off, nothing is logged');
is(sql(q{SELECT count(*) FROM pg_settings WHERE name = 'mycelium.log_failed_attempts' AND context = 'superuser'}),
	'1', 'only a superuser sets it');
as_alice("SELECT mycelium.cancel_workflow('$ext')");
as_alice("SELECT mycelium.cancel_workflow('$quiet')");

# --- agent_type_stats on a known workload
my $stats = q{SELECT concat_ws(',', ready, running, lapsed_leases, completed_last_hour, failed_last_hour)
	FROM mycelium.agent_type_stats WHERE agent_type = 'outside'};
my $base = as_alice($stats);
is($base, '0,0,0,0,0', 'outside: the first part\'s tasks were all cancelled');
my $w = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('o1', 'a', 'outside'), mycelium.task('o2', 'a', 'outside'),
	mycelium.task('o3', 'a', 'outside', allow_failure => true, max_attempts => 1),
	mycelium.task('o4', 'a', 'outside', dependencies => '{o1}'),
	mycelium.task('o5', 'a', 'outside', allow_failure => true, max_attempts => 1)))});
is(as_alice($stats), '0,0,0,0,0', 'a workflow not started has no ready tasks to count');
as_alice("SELECT mycelium.start_workflow('$w')");
is(as_alice($stats), '4,0,0,0,0', 'four ready (o4 waits for o1)');
as_alice("SELECT mycelium.pause_workflow('$w')");
is(as_alice($stats), '0,0,0,0,0', 'a paused workflow\'s tasks do not wait: not counted');
as_alice("SELECT mycelium.resume_workflow('$w')");
is(as_alice($stats), '4,0,0,0,0', 'resumed: four ready again');
# the view counts the ready tasks with ready_task_count, which reads
# task_states_ready_count_idx (one scan of it a query, under row-level
# security too), and finds the oldest from the start of
# task_states_ready_at_idx
my $scans = q{SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'task_states_ready_count_idx'};
my $before_scans = sql($scans);
as_alice(q{SELECT ready FROM mycelium.agent_type_stats WHERE agent_type = 'outside'});
is(sql($scans) - $before_scans, 1, 'ready tasks are counted from task_states_ready_count_idx, once');
my $plan = as_alice(q{EXPLAIN (COSTS OFF) SELECT ready, oldest_ready_age FROM mycelium.agent_type_stats
	WHERE agent_type = 'outside'});
unlike($plan, qr/Scan using task_states_ready_count_idx|Scan using task_states_ready_idx/,
	'the view itself scans no index of ready tasks but for the oldest');
like($plan, qr/Limit(?:(?!SubPlan).)*Nested Loop(?:(?!SubPlan).)*Index (?:Only )?Scan using task_states_ready_at_idx/s,
	'the oldest is the first in that index of a running workflow')
  or diag($plan);
# a workflow started more than a second after its creation: its tasks are
# ready since its start, not since its creation
my $late = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('l1', 'a', 'outside')))});
sql('SELECT pg_sleep(1.1)');
as_alice("SELECT mycelium.start_workflow('$late')");
is(sql(qq{SELECT t.ready_at = w.started_at OR t.ready_at BETWEEN w.created_at + interval '1 second' AND w.started_at + interval '1 second'
	FROM mycelium.task_states t JOIN mycelium.workflow_states w USING (workflow_id) WHERE t.workflow_id = '$late'}),
	't', 'a late start dates its tasks from the start');
as_alice("SELECT mycelium.cancel_workflow('$late')");
# the agent type's limits
is(as_alice(q{SELECT concat_ws(',', max_running IS NULL, rate IS NULL, rate_per IS NULL)
	FROM mycelium.agent_type_stats WHERE agent_type = 'outside'}), 't,t,t', 'no limits: NULL');
sql(q{SELECT mycelium.set_agent_type_limits('outside', 7, 30, '1 minute')});
is(as_bob(q{SELECT concat_ws(',', max_running, rate, rate_per)
	FROM mycelium.agent_type_stats WHERE agent_type = 'outside'}), '7,30,00:01:00',
	'the limits set by set_agent_type_limits, seen by every role');
sql(q{SELECT mycelium.set_agent_type_limits('outside')});
is(as_bob($stats), '0,0,0,0,0', "bob counts none of alice's tasks");
is(sql($stats), '4,0,0,0,0', 'an admin counts every role');
sleep 1;
cmp_ok(as_alice(q{SELECT extract(epoch FROM oldest_ready_age) FROM mycelium.agent_type_stats WHERE agent_type = 'outside'}),
	'>=', 1, 'the oldest ready task waits since its workflow started');
as_alice(q{SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-1', max_tasks => 2)});
is(as_alice($stats), '2,2,0,0,0', 'two claimed: running');
as_alice(qq{SELECT mycelium.complete_task('$w', 'o1', 'agent-1', '{}')});
cmp_ok(as_alice(q{SELECT extract(epoch FROM oldest_ready_age) FROM mycelium.agent_type_stats WHERE agent_type = 'outside'}),
	'>=', 1, 'the oldest ready task is still an early one');
as_alice(qq{SELECT mycelium.complete_task('$w', 'o2', 'agent-1', '{}')});
is(as_alice($stats), '3,0,0,2,0', 'two completed in the last hour; o4 is ready now');
as_alice(q{SELECT count(*) FROM mycelium.claim_tasks('outside', 'agent-2', max_tasks => 3, lease => '1 second')});
sql('SELECT pg_sleep(1.2)');
# the launcher takes lapsed leases back: count until it does, or see it did
my $lapsed = as_alice(q{SELECT lapsed_leases FROM mycelium.agent_type_stats WHERE agent_type = 'outside'});
ok($lapsed == 3 || $lapsed == 0, "lapsed leases are counted until the launcher takes them back ($lapsed)");
$node->poll_query_until('postgres', qq{SELECT count(*) = 3 FROM mycelium.tasks
	WHERE workflow_id = '$w' AND status IN ('failed', 'ready') AND attempt = 1 AND task_id IN ('o3', 'o4', 'o5')})
  or die 'the leases did not lapse';
is(as_alice($stats), '1,0,0,2,2', 'o3 and o5 (one attempt each) failed, o4 is ready again');

# a task the scheduler's completion makes ready is counted and dated too
my $mixed = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('f', 'a', 'test'),
	mycelium.task('after_f', 'a', 'outside', dependencies => '{f}')))});
as_alice("SELECT mycelium.start_workflow('$mixed')");
$node->poll_query_until('postgres', qq{SELECT status = 'ready' FROM mycelium.tasks
	WHERE workflow_id = '$mixed' AND task_id = 'after_f'})
  or die 'after_f did not become ready';
is(as_alice($stats), '2,0,0,2,2', "a worker's completion made after_f ready: counted");
is(sql(qq{SELECT ready_at >= (SELECT finished_at FROM mycelium.tasks WHERE workflow_id = '$mixed' AND task_id = 'f')
	FROM mycelium.task_states WHERE workflow_id = '$mixed' AND task_no = 2}), 't',
	'after_f is ready since f finished');
as_alice("SELECT mycelium.cancel_workflow('$mixed')");
is(as_alice($stats), '1,0,0,2,2', 'cancelled: no longer ready');

# attempt lengths: two test tasks of 0.2 s and 0.6 s
my $t = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('s', 'a', 'test', input => '{"sleep": 0.2}'),
	mycelium.task('l', 'a', 'test', input => '{"sleep": 0.6}')))});
my $before = as_alice(q{SELECT completed_last_hour FROM mycelium.agent_type_stats WHERE agent_type = 'test'});
as_alice("SELECT mycelium.start_workflow('$t')");
ok(wait_for_status($node, $t, 'completed', 120), 'the timed workflow completes');
is(as_bob(q{SELECT completed_last_hour || ',' || (p50_ms IS NULL) FROM mycelium.agent_type_stats WHERE agent_type = 'test'}),
	'0,true', 'bob has no durations');
my ($p50, $p95, $done) = split /\|/, as_alice(q{SELECT p50_ms, p95_ms, completed_last_hour FROM mycelium.agent_type_stats WHERE agent_type = 'test'});
is($done, $before + 2, 'both completed in the last hour');
my ($s_ms, $l_ms) = split /\|/, as_alice(qq{SELECT
	(SELECT execution_time FROM mycelium.tasks WHERE workflow_id = '$t' AND task_id = 's'),
	(SELECT execution_time FROM mycelium.tasks WHERE workflow_id = '$t' AND task_id = 'l')});
cmp_ok($l_ms, '>=', 590, 'the long attempt took 0.6 s');
# alice's other completed test tasks were quick (sleep 0): the p50 is
# among the quick ones, the p95 the long one's less 5% of the spread
my $expect = as_alice(q{SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY execution_time) || '|'
	|| percentile_cont(0.5) WITHIN GROUP (ORDER BY execution_time)
	FROM mycelium.tasks WHERE agent_type = 'test' AND status IN ('completed', 'failed')});
is("$p95|$p50", $expect, 'p50 and p95 are the percentiles of the attempts that ended');
cmp_ok($p95, '>', $s_ms, 'p95 is above the short attempt');
cmp_ok($p95, '<=', $l_ms, 'and not above the long one');

# --- the executor pool
my $slow = as_alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('slow', 'a', 'test', input => '{"sleep": 4}')))});
as_alice("SELECT mycelium.start_workflow('$slow')");
$node->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM mycelium.worker_pool
	WHERE workflow_id = '$slow' AND executing})
  or die 'no worker runs the slow task';
is(as_alice(qq{SELECT concat_ws(',', state, busy, executing, idle, task_no, attempt, roles, role_tasks, pid > 0)
	FROM mycelium.worker_pool WHERE workflow_id = '$slow'}),
	'running,t,t,f,1,1,{alice},{1},t', 'alice sees the worker running her task');
is(as_bob(qq{SELECT count(*) FROM mycelium.worker_pool WHERE workflow_id = '$slow'}),
	'0', "bob does not see alice's workflow");
is(as_bob(q{SELECT count(*) FROM mycelium.worker_pool WHERE busy AND workflow_id IS NULL AND roles = '{}'}),
	'1', 'but sees that a worker is busy');
is(as_alice(q{SELECT role || ':' || workers || ':' || tasks FROM mycelium.worker_pool_by_role}),
	'alice:1:1', 'per role: alice has one worker');
is(as_bob(q{SELECT count(*) FROM mycelium.worker_pool_by_role}), '0', 'bob has none');
is(sql(q{SELECT max_workers = current_setting('mycelium.max_workers')::int
	AND running = (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mycelium worker')
	AND busy = 1 AND executing = 1 AND idle = running - 1 FROM mycelium.worker_pool_summary}),
	't', 'the summary agrees with pg_stat_activity');
ok(wait_for_status($node, $slow, 'completed', 120), 'the slow task completes');
$node->poll_query_until('postgres', q{SELECT busy = 0 FROM mycelium.worker_pool_summary})
  or die 'the pool stays busy';
is(sql(q{SELECT count(*) FROM mycelium.worker_pool_by_role}), '0', 'idle again: no role holds a worker');

$node->stop;
done_testing();
