# test/lib/citus.sh: builds Citus from the vendored source and installs it
# into the PostgreSQL the tests use (MC_PG_BIN), for test/t/032_citus.pl.
# Sourced after test/lib/common.sh (test/run-tests, test/install-citus).
#
# Citus is not a Debian package and has no npm package, the only registries
# the project's machines reach, so its source is in the repository:
# third_party/citus-13.0.5.tar.gz (AGPL-3.0; see third_party/README.md).
# A build is kept in MC_CITUS_CACHE, keyed by the tarball's checksum and the
# PostgreSQL it was configured for, so a second run only reinstalls it (a
# few seconds) or, when it is installed already, does nothing.

MC_CITUS_VERSION=${MC_CITUS_VERSION:-13.0.5}
MC_CITUS_CACHE=${MC_CITUS_CACHE:-/var/cache/mycelium-citus}
MC_CITUS_PACKAGES="libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev
	libselinux1-dev libxslt1-dev libxml2-dev libicu-dev zlib1g-dev libpam0g-dev
	libreadline-dev libssl-dev make gcc"

# mc_citus_installed: true when MC_PG_BIN's PostgreSQL has Citus
# MC_CITUS_VERSION's library and control file
mc_citus_installed() {
	local lib share
	lib=$("$MC_PG_BIN/pg_config" --pkglibdir)
	share=$("$MC_PG_BIN/pg_config" --sharedir)
	[ -f "$lib/citus.so" ] && [ -f "$share/extension/citus.control" ] &&
		grep -q "Citus $MC_CITUS_VERSION" "$lib/citus.so" 2>/dev/null
}

# mc_citus_install SRC: installs Citus into MC_PG_BIN's PostgreSQL, from
# the tarball in SRC/third_party, building it only when no cached build
# of the same source for the same PostgreSQL exists
mc_citus_install() {
	local src=$1 tarball key dir jobs
	tarball="$src/third_party/citus-$MC_CITUS_VERSION.tar.gz"
	if [ -z "${MC_CITUS_FORCE:-}" ] && mc_citus_installed; then
		mc_log "Citus $MC_CITUS_VERSION is installed in $MC_PG_BIN's PostgreSQL"
		return 0
	fi
	[ -f "$tarball" ] || mc_die "no Citus source at $tarball"
	mc_install_packages $MC_CITUS_PACKAGES
	# the cached build is valid for this source and this PostgreSQL only
	key=$( { sha256sum "$tarball"; "$MC_PG_BIN/pg_config" --version --includedir-server; } |
		sha256sum | cut -c1-16)
	dir="$MC_CITUS_CACHE/citus-$MC_CITUS_VERSION-$key"
	if [ ! -f "$dir/.built" ]; then
		mc_log "building Citus $MC_CITUS_VERSION for $MC_PG_BIN (once; kept in $dir)"
		mc_as_root rm -rf "$dir"
		mc_as_root mkdir -p "$dir"
		mc_as_root tar -xzf "$tarball" -C "$dir" --strip-components=1
		jobs=$(nproc 2>/dev/null || echo 1)
		# no LLVM bitcode (with_llvm=no): it only serves JIT inlining and
		# would make clang a requirement, as in the extension's own build
		(cd "$dir" &&
			mc_as_root ./configure PG_CONFIG="$MC_PG_BIN/pg_config" >configure.log 2>&1 &&
			mc_as_root make -j"$jobs" with_llvm=no >make.log 2>&1) ||
			{ tail -n 40 "$dir/configure.log" "$dir/make.log" 2>/dev/null
			  mc_die "the build of Citus $MC_CITUS_VERSION failed (logs in $dir)"; }
		mc_as_root touch "$dir/.built"
	fi
	mc_log "installing Citus $MC_CITUS_VERSION into $MC_PG_BIN's PostgreSQL"
	(cd "$dir" && mc_as_root make with_llvm=no install >install.log 2>&1) ||
		{ tail -n 40 "$dir/install.log"; mc_die "the install of Citus $MC_CITUS_VERSION failed"; }
}
