# Handoff messages reach tasks run by the scheduler's workers: a message
# the owner sends before the start and one a task's executor sends while it
# runs both arrive, in send order, in the ctx.handoffs of the tasks of the
# target agent, and in no other task's.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('handoff');

$node->safe_psql('postgres', q{
	CREATE FUNCTION public.hand_over(ctx jsonb) RETURNS jsonb LANGUAGE sql AS $$
		SELECT jsonb_build_object('sent', mycelium.send_handoff((ctx->>'workflow_id')::uuid,
			mycelium.create_handoff(ctx->'task'->>'agent_id', ctx->'task'->>'agent_type',
									'b1', 'inbox', 'review', context => ctx->'task'->'input')))
	$$;
	CREATE FUNCTION public.inbox(ctx jsonb) RETURNS jsonb LANGUAGE sql AS $$
		SELECT jsonb_build_object('handoffs', ctx->'handoffs')
	$$;
	GRANT EXECUTE ON FUNCTION public.hand_over(jsonb), public.inbox(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('hand_over', 'public.hand_over(jsonb)');
	SELECT mycelium.register_executor('inbox', 'public.inbox(jsonb)');});

my $wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('A', 'a1', 'hand_over', input => '{"finding": 7}'),
		mycelium.task('B', 'b1', 'inbox', dependencies => '{A}'),
		mycelium.task('C', 'c1', 'inbox', dependencies => '{A}')));});
$node->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT mycelium.send_handoff('$wf', mycelium.create_handoff('planner', 'plan', 'b1', 'inbox', 'start'));
	SELECT mycelium.start_workflow('$wf');});
ok(wait_for_status($node, $wf, 'completed', 30), 'workflow completes');

is( $node->safe_psql('postgres', qq{
		SELECT string_agg((h->'source'->>'agent_id') || ':' || (h->'context'->>'task_description'), ',' ORDER BY n)
		  FROM mycelium.tasks t, jsonb_array_elements(t.result->'handoffs') WITH ORDINALITY x(h, n)
		 WHERE t.workflow_id = '$wf' AND t.task_id = 'B'}),
	'planner:start,a1:review', 'B got both messages, in send order');
is( $node->safe_psql('postgres', qq{
		SELECT t.result->'handoffs'->1 = (SELECT message FROM mycelium.handoffs
										 WHERE workflow_id = '$wf' AND message_id = (a.result->>'sent')::uuid)
		  FROM mycelium.tasks t, mycelium.tasks a
		 WHERE t.workflow_id = '$wf' AND t.task_id = 'B' AND a.workflow_id = '$wf' AND a.task_id = 'A'}),
	't', 'the message the executor sent is delivered as stored');
is( $node->safe_psql('postgres', qq{
		SELECT result->>'handoffs' FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'C'}),
	'[]', 'another agent gets none');
is( $node->safe_psql('postgres', qq{
		SELECT string_agg(sent_by::text, ',' ORDER BY seq) FROM mycelium.handoffs WHERE workflow_id = '$wf'}),
	'alice,alice', 'the executor sent as the workflow owner');

$node->stop;
done_testing();
