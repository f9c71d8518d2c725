# Delayed starts (issue 31): start_workflow(id, start_at => ...) and
# start_from_template(..., start_at => ...) keep the workflow pending until
# its time, then the launcher starts it within a second; the time is in the
# catalog, so it survives a restart.  A delayed start may be brought
# forward, and a cancelled one never starts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('delayed');

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub as_alice { return sql("SET ROLE alice; $_[0]"); }

my $def = q{jsonb_build_array(mycelium.task('a', 'a', 'test'),
	mycelium.task('b', 'a', 'test', dependencies => '{a}'))};

# --- a start 6 s ahead, across a restart
my $wf = as_alice("SELECT mycelium.create_workflow($def)");
my $at = as_alice(qq{SELECT mycelium.start_workflow('$wf', start_at => clock_timestamp() + interval '6 s');
	SELECT start_at FROM mycelium.workflows WHERE workflow_id = '$wf'});
$at = (split /\n/, $at)[-1];
is(as_alice(qq{SELECT status || ',' || (started_at IS NULL) FROM mycelium.workflows WHERE workflow_id = '$wf'}),
	'pending,true', 'a delayed workflow stays pending, not started');
like(as_alice(qq{SELECT string_agg(event, ',' ORDER BY version) FROM mycelium.workflow_history('$wf') WHERE task_id IS NULL}),
	qr/^created,start at \d{4}-/, 'history records the start it asked for');
$node->restart;
is(as_alice(qq{SELECT status FROM mycelium.workflows WHERE workflow_id = '$wf'}),
	'pending', 'still pending after the restart, before its time');
ok(wait_for_status($node, $wf, 'completed', 120), 'it runs after the restart and completes');
my ($late, $first) = split /\|/, as_alice(qq{SELECT extract(epoch FROM started_at - start_at),
	(SELECT min(started) FROM public.effects WHERE workflow_id = '$wf') >= start_at
	FROM mycelium.workflows WHERE workflow_id = '$wf'});
cmp_ok($late, '>=', 0, 'it did not start before its time');
cmp_ok($late, '<', 1, "it started within a second of its time ($late s)");
is($first, 't', 'no task ran before its time');
is(as_alice(qq{SELECT start_at = '$at' FROM mycelium.workflows WHERE workflow_id = '$wf'}), 't',
	'start_at is kept');

# --- start_from_template with start_at
as_alice(q{SELECT mycelium.create_template('later', jsonb_build_array(mycelium.task('t', 'a', 'test')))});
my $tw = as_alice(q{SELECT mycelium.start_from_template('later', start_at => clock_timestamp() + interval '2 s')});
is(as_alice(qq{SELECT status FROM mycelium.workflows WHERE workflow_id = '$tw'}), 'pending',
	'a template started later is pending');
ok(wait_for_status($node, $tw, 'completed', 60), 'and completes after its time');
($late) = as_alice(qq{SELECT extract(epoch FROM started_at - start_at) FROM mycelium.workflows WHERE workflow_id = '$tw'});
ok($late >= 0 && $late < 1, "the template's workflow started within a second of its time ($late s)");

# --- a time already past starts at once; NULL too
my $now = as_alice("SELECT mycelium.create_workflow($def)");
as_alice(qq{SELECT mycelium.start_workflow('$now', start_at => now() - interval '1 hour')});
is(as_alice(qq{SELECT status <> 'pending' AND started_at IS NOT NULL FROM mycelium.workflows WHERE workflow_id = '$now'}), 't',
	'a start_at in the past starts at once');

# --- brought forward; cancelled before its time
my $fwd = as_alice("SELECT mycelium.create_workflow($def)");
as_alice(qq{SELECT mycelium.start_workflow('$fwd', start_at => now() + interval '1 hour')});
is(as_alice(qq{SELECT mycelium.start_workflow('$fwd') > 0; SELECT status <> 'pending' AND start_at IS NULL FROM mycelium.workflows WHERE workflow_id = '$fwd'}),
	"t\nt", 'a delayed start is brought forward by starting it now');
my $gone = as_alice("SELECT mycelium.create_workflow($def)");
as_alice(qq{SELECT mycelium.start_workflow('$gone', start_at => clock_timestamp() + interval '1 s')});
as_alice(qq{SELECT mycelium.cancel_workflow('$gone')});
sleep 2;
is(as_alice(qq{SELECT status || ',' || (started_at IS NULL) FROM mycelium.workflows WHERE workflow_id = '$gone'}),
	'cancelled,true', 'a cancelled delayed start never starts');

# --- errors change nothing
my $again = as_alice("SELECT mycelium.create_workflow($def)");
as_alice(qq{SELECT mycelium.start_workflow('$again', start_at => now() + interval '1 hour')});
my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE bob; SELECT mycelium.start_workflow('$again', now() + interval '1 s')");
like($err, qr/workflow \S+ does not exist/, "bob cannot reschedule alice's workflow");
($ret, $out, $err) = $node->psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow(NULL, now())");
like($err, qr/workflow_id must not be null/, 'a NULL workflow id is refused');
($ret, $out, $err) = $node->psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$now', now() + interval '1 s')");
like($err, qr/is already (running|completed)/, 'a running workflow cannot be delayed');
is(as_alice(qq{SELECT status || ',' || (start_at > now() + interval '50 minutes') FROM mycelium.workflows WHERE workflow_id = '$again'}),
	'pending,true', 'the refused calls changed nothing');

$node->stop;
done_testing();
