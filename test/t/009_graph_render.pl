# workflow_graph's DOT output renders with Graphviz: a diamond run by the
# scheduler and a workflow with hostile task ids each become an SVG with
# one node per task and one edge per dependency, and dot reports no error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('graph');

# render(DOT): the SVG dot makes of it; fails the test if dot complains
sub render
{
	my ($dot, $name) = @_;
	my ($svg, $err) = ('', '');
	my $ok = IPC::Run::run([ 'dot', '-Tsvg' ], '<', \$dot, '>', \$svg, '2>', \$err);
	ok($ok && $err eq '', "dot renders $name without error") or diag($err);
	return $svg;
}

sub count_of
{
	my ($svg, $class) = @_;
	my @found = $svg =~ /<g id="[^"]*" class="$class">/g;
	return scalar @found;
}

my $wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('A', 'a', 'test'),
		mycelium.task('B', 'b', 'test', dependencies => '{A}'),
		mycelium.task('C', 'c', 'test', dependencies => '{A}'),
		mycelium.task('D', 'd', 'test', dependencies => '{B,C}')), name => 'diamond');});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 30), 'the diamond completes');
my $svg = render($node->safe_psql('postgres', "SELECT mycelium.workflow_graph('$wf', 'dot')"),
	'the diamond');
is(count_of($svg, 'node'), 4, 'four nodes');
is(count_of($svg, 'edge'), 4, 'four edges');
like($svg, qr/fill="#b2f2bb"/, 'completed tasks are green');
like($svg, qr/diamond \(completed\)/, 'the title names the workflow and its status');

# ids made to break the syntax stay labels
$node->safe_psql('postgres', "SELECT mycelium.register_executor('outside', NULL)");
$wf = $node->safe_psql('postgres', <<'SQL');
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task($$say "hi"\$$, 'a', 'outside'),
		mycelium.task($$x"]; evil[" -> y; } digraph { z$$, 'a', 'outside',
					  dependencies => $${"say \"hi\"\\"}$$)),
		name => $$} "name$$);
SQL
$svg = render($node->safe_psql('postgres', "SELECT mycelium.workflow_graph('$wf', 'dot')"),
	'hostile ids');
is(count_of($svg, 'node'), 2, 'two nodes: no node was injected');
is(count_of($svg, 'edge'), 1, 'one edge: no edge was injected');
like($svg, qr/x&quot;\]; evil\[&quot; &#45;&gt; y; \} digraph \{ z/, 'the hostile id is shown as written');

done_testing();
