# A catalog statement's plan, made again when the statistics change, is
# made with the settings of its first one (src/catalog/catalog.c,
# catalog_run).
#
# The statements that find their rows by key are planned with sequential
# scans off, and their generic plans are kept.  The plan cache makes a
# plan again inside SPI when an invalidation arrives while the statement
# takes its locks; that plan used to be made without the settings and, on
# a small table, read the whole table at every call until the next
# ANALYZE: a purge of a few workflows scanned all of workflow_states (a
# regression test failed on it once), and a worker's claims could do the
# same for hours.  Here the invalidation arrives at that moment for sure:
# a session's read of a workflow waits inside its statement for
# workflow_states' lock, which another session holds while it adds a
# workflow and analyzes the table, and gets it when that session commits.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# no autovacuum: only the test's ANALYZEs change the statistics
my $node = mycelium_node('replan', 'autovacuum = off');
my $wf = $node->safe_psql('postgres', q{SELECT mycelium.create_workflow('[]')});
$node->safe_psql('postgres', 'ANALYZE mycelium.workflow_states');
my $timeout = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);

# a psql session the test feeds statement by statement
sub session
{
	my %s = (in => '', out => '', err => '', n => 0);
	$s{h} = IPC::Run::start(
		[ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err}, $timeout);
	return \%s;
}

# send_sql(S, SQL): gives the session SQL without waiting for it
sub send_sql
{
	my ($s, $sql) = @_;
	$s->{n}++;
	$sql =~ s/;\s*$//;
	$s->{in} .= "$sql;\n\\echo step-$s->{n}\n";
	$s->{h}->pump_nb;
}

# wait_done(S): waits until the session has run all it was given
sub wait_done
{
	my ($s) = @_;
	$s->{h}->pump until $s->{out} =~ /step-$s->{n}\n/;
}

# whether the session of pid PID waits for a lock of the given type
sub waits_for
{
	my ($pid, $locktype) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT EXISTS (SELECT 1 FROM pg_locks
		 WHERE pid = $pid AND NOT granted AND locktype = '$locktype')});
}

# the sequential scans of workflow_states, as the statistics collector has them
sub seq_scans
{
	return $node->safe_psql('postgres', q{
		SELECT seq_scan FROM pg_stat_user_tables
		 WHERE relid = 'mycelium.workflow_states'::regclass});
}
my $before = seq_scans();

# the reader reads once: its plan is made and kept
my $reader = session();
send_sql($reader, 'SELECT pg_backend_pid()');
send_sql($reader, "SELECT mycelium.get_workflow('$wf') IS NOT NULL");
wait_done($reader);
my ($reader_pid) = $reader->{out} =~ /^(\d+)$/m;

# the holder takes the table; the reader's second read, its plan still
# valid, waits for the table inside its statement
my $holder = session();
send_sql($holder, 'BEGIN; LOCK TABLE mycelium.workflow_states IN ACCESS EXCLUSIVE MODE');
wait_done($holder);
send_sql($reader, "SELECT mycelium.get_workflow('$wf') IS NOT NULL");
ok(waits_for($reader_pid, 'relation'), "the reader's second read waits for workflow_states");

# meanwhile the table's statistics change, and the plan with them
send_sql($holder, q{SELECT mycelium.create_workflow('[]') IS NOT NULL;
	ANALYZE mycelium.workflow_states;
	COMMIT});
wait_done($holder);
wait_done($reader);
is(scalar(() = $reader->{out} =~ /^t$/mg), 2, 'the reader read the workflow twice');
$_->{in} .= "\\q\n", $_->{h}->finish for ($holder, $reader);

# the sessions' backends report what they scanned when they exit
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
  or die 'the sessions did not end';
is(seq_scans() - $before, 0,
	'the read planned again after the ANALYZE did not scan workflow_states');

$node->stop;
done_testing();
