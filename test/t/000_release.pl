# The release's files agree with each other: the control file's version is
# the one META.json, the changelog and the built install script name; an
# upgrade script leads from every release the upgrade test starts from;
# META.json holds what the PGXN meta spec (1.0.0) requires; the licence is
# there.  Needs no server.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use FindBin;
use PostgreSQL::Test::Utils qw(slurp_file);

my $top = "$FindBin::RealBin/../..";

my ($version) = slurp_file("$top/mycelium.control") =~ /^default_version = '([^']+)'/m;
ok(defined $version, "the control file names a default_version");
like($version, qr/^\d+\.\d+\.\d+$/, 'a semantic version');

# META.json against the PGXN meta spec's required fields
my $meta = decode_json(slurp_file("$top/META.json"));
for my $field (qw(name abstract maintainer license provides meta-spec version))
{
	ok(exists $meta->{$field}, "META.json has $field");
}
is($meta->{name}, 'mycelium', 'META.json names the distribution');
is($meta->{version}, $version, 'META.json has the control file\'s version');
is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json follows meta spec 1.0.0');
is($meta->{license}, 'postgresql', 'META.json gives the licence');
is($meta->{provides}{mycelium}{version}, $version, 'the extension it provides has that version');
is($meta->{provides}{mycelium}{file}, 'mycelium.control', 'and is found by its control file');
ok(-f "$top/$meta->{provides}{mycelium}{docfile}", 'its docfile exists');
like($meta->{release_status}, qr/^(stable|testing|unstable)$/, 'a valid release_status');

# the changelog's newest entry is this version
my ($top_entry) = slurp_file("$top/CHANGELOG.md") =~ /^## (\S+)/m;
is($top_entry, $version, 'the changelog\'s newest entry is this version');

like(slurp_file("$top/LICENSE"), qr/PostgreSQL License/, 'the licence is the PostgreSQL licence');

# an upgrade path from each release the upgrade test starts from
my ($bases) = slurp_file("$top/test/lib/common.sh") =~ /^MC_UPGRADE_BASES="([^"]*)"/m;
ok(defined $bases, 'the upgrade bases are listed');
for my $base (split ' ', $bases)
{
	my ($from) = split /:/, $base;
	my $v = $from;
	my $steps = 0;
	while ($v ne $version && $steps++ < 20)
	{
		my @next = map { m{--\Q$v\E--([^/]+)\.sql$} ? $1 : () }
		  glob("$top/src/sql/update/mycelium--*--*.sql");
		last unless @next == 1;
		$v = $next[0];
	}
	is($v, $version, "an upgrade script chain leads from $from to $version");
}

done_testing();
