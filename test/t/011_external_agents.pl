# External agents against the real scheduler: an agent that stops
# heartbeating loses its task when the lease lapses (a failed attempt),
# another agent gets it, and the first agent's late completion is refused;
# and the reference agent (examples/agent.py) runs a mixed workflow end to
# end, woken by NOTIFY, and stops cleanly on SIGTERM.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('agents');
$node->safe_psql('postgres', q{
	SELECT mycelium.register_executor('ext', NULL);
	SELECT mycelium.register_executor('summarizer', NULL);
});

# --- a lapsed lease: the task goes to another agent ---------------------
my $wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('x', 'a', 'ext', max_attempts => 3, initial_delay => 0)))});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
is($node->safe_psql('postgres',
	"SELECT task_id || ':' || attempt FROM mycelium.claim_tasks('ext', 'agent-a', 1, '1 second')"),
	'x:1', 'agent a claims the task with a 1-second lease');
my $t0 = time;

# agent b keeps asking; it gets the task once a's lease has lapsed
my $got = '';
while (time - $t0 < 30)
{
	$got = $node->safe_psql('postgres',
		"SELECT task_id || ':' || attempt FROM mycelium.claim_tasks('ext', 'agent-b', 1, '1 minute')");
	last if $got ne '';
	usleep(100_000);
}
my $waited = time - $t0;
is($got, 'x:2', 'after the lease lapsed, agent b claims attempt 2');
cmp_ok($waited, '>=', 0.9, 'not before the lease lapsed');
cmp_ok($waited, '<', 5, 'the launcher takes the task back promptly');

my ($rc, $out, $err) = $node->psql('postgres',
	"SELECT mycelium.complete_task('$wf', 'x', 'agent-a', '{\"late\": true}')");
isnt($rc, 0, "agent a's late completion is refused");
like($err, qr/worker "agent-a" does not hold task "x"/, 'with a clear message');
like($err, qr/Worker "agent-b" holds attempt 2/, 'naming the holder');
($rc, $out, $err) = $node->psql('postgres',
	"SELECT mycelium.heartbeat('$wf', 'x', 'agent-a')");
isnt($rc, 0, "agent a's late heartbeat is refused too");

is($node->safe_psql('postgres',
	"SELECT mycelium.complete_task('$wf', 'x', 'agent-b', '{\"by\": \"b\"}')"),
	'completed', 'agent b completes it');
ok(wait_for_status($node, $wf, 'completed', 10), 'the workflow completes');
is($node->safe_psql('postgres',
	"SELECT result->>'by' FROM mycelium.tasks WHERE workflow_id = '$wf'"),
	'b', "the result is agent b's");
like($node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.workflow_history('$wf')
	 WHERE task_id = 'x' AND attempt = 1 AND status = 'ready'}),
	qr/attempt 1 was lost: the lease of worker "agent-a" lapsed/,
	'the lapsed lease is recorded as a failed attempt');

# a lapsed lease with no attempts left fails the workflow
my $wf1 = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('y', 'a', 'ext', max_attempts => 1)))});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf1')");
$node->safe_psql('postgres',
	"SELECT count(*) FROM mycelium.claim_tasks('ext', 'agent-a', 1, '0.5 seconds')");
ok(wait_for_status($node, $wf1, 'failed', 10), 'the last attempt lost: the workflow fails');
like($node->safe_psql('postgres', "SELECT error FROM mycelium.workflows WHERE workflow_id = '$wf1'"),
	qr/task "y" failed: attempt 1 was lost: the lease of worker "agent-a" lapsed/,
	'and says why');

# --- the reference agent runs a mixed workflow --------------------------
my $agent_py = "$FindBin::RealBin/../../examples/agent.py";
my $dsn = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
my ($agent_out, $agent_err) = ('', '');
# --poll 60: without notifications the agent would sleep a minute
my $agent = IPC::Run::start(
	[ '/usr/bin/python3', $agent_py, '--dsn', $dsn, '--agent-type', 'summarizer',
	  '--worker-id', 'ref-agent', '--batch', '5', '--lease', '1', '--poll', '60' ],
	'>', \$agent_out, '2>', \$agent_err, IPC::Run::timeout(180));
# its two connections: the main one and the heartbeat's
$node->poll_query_until('postgres', q{
	SELECT count(*) >= 2 FROM pg_stat_activity
	 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
  or die 'the agent did not connect';

my $mixed = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('research', 'db', 'test'),
		mycelium.task('summary', 'llm', 'summarizer', dependencies => '{research}',
			input => '{"text": "agents outside the database", "sleep": 1.5}'),
		mycelium.task('flaky', 'llm', 'summarizer', dependencies => '{research}',
			input => '{"fail_attempts": 1}', initial_delay => 0.2),
		mycelium.task('report', 'db', 'test', dependencies => '{summary, flaky}')),
		name => 'mixed')});
$t0 = time;
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$mixed')");
ok(wait_for_status($node, $mixed, 'completed', 40), 'the mixed workflow completes with the reference agent');
cmp_ok(time - $t0, '<', 30, 'the agent was woken by NOTIFY, not by its 60-second poll');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(task_id || ':' || attempt, ',' ORDER BY task_id)
	  FROM mycelium.tasks WHERE workflow_id = '$mixed'}),
	'flaky:2,report:1,research:1,summary:1',
	'the failing attempt was retried; the 1.5 s task outlived its 1 s lease by heartbeats');
is($node->safe_psql('postgres', qq{
	SELECT result->'inputs'->'research'->>'task' FROM mycelium.tasks
	 WHERE workflow_id = '$mixed' AND task_id = 'summary'}),
	'research', "the external task saw the function task's result");
is($node->safe_psql('postgres', qq{
	SELECT string_agg(r->>'task_id' || '=' || (r->'result'->>'agent'), ',' ORDER BY r->>'task_id')
	  FROM public.effects, jsonb_array_elements(previous) r
	 WHERE workflow_id = '$mixed' AND task_id = 'report'}),
	'flaky=llm,summary=llm', 'the last function task saw both external results');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.workflow_history('$mixed')
	 WHERE event = 'claimed by ref-agent'}),
	'3', 'every external attempt was claimed by the reference agent');

# SIGTERM: a clean stop
$agent->signal('TERM');
ok($agent->finish, 'the agent exits 0 on SIGTERM');
like($agent_err, qr/\[ref-agent\] stopped/, 'after saying it stopped');
unlike($agent_err, qr/Traceback/, 'without a traceback');

$node->stop;
done_testing();
