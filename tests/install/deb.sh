#!/bin/sh
# The Debian package, built and used as an administrator would: make dist;
# dpkg-buildpackage -us -uc -b in the unpacked tarball; lintian (no errors);
# apt-get install ./maild_*.deb; check the user, the conffiles, the queue,
# the PAM file, the units (maild.service enabled, the sockets not), maild -t;
# run the packaged maild briefly on loopback high ports with a copy of the
# packaged config (real PAM through /etc/pam.d/maild); then remove and purge
# it and check what is left (the system user, as Debian keeps those).
#
# Run by ./quickstart test, as root, on Debian: from the top of a configured
# tree, sh tests/install/deb.sh. Exit 0 on success, 77 when skipped (not
# root, not Debian, or maild already installed from elsewhere), 1 on
# failure. The package is purged at the end whatever happens, and the
# machine is left as it was (the user maild goes if this test made it).
set -eu

say() { printf '==> deb test: %s\n' "$*"; }
fail() { printf 'deb test FAILED: %s\n' "$*" >&2; exit 1; }
skip() { printf 'deb test skipped: %s\n' "$*" >&2; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "it must run as root (it installs a package)"
command -v dpkg >/dev/null || skip "not a Debian system"
for t in dpkg-buildpackage dh lintian apt-get swaks curl python3 useradd \
    chpasswd timeout systemd-analyze; do
	command -v "$t" >/dev/null ||
	    fail "$t is missing (./quickstart test installs what this needs)"
done
if dpkg-query -W -f='${Status}' maild 2>/dev/null | grep -q installed; then
	skip "a maild package is installed already; this test would remove it"
fi
for f in /etc/maild /var/spool/maild /var/lib/maild \
    /lib/systemd/system/maild.service; do
	[ ! -e "$f" ] || skip "$f exists; this test would take it over"
done

top=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$top/Makefile" ] || fail "run it from a configured tree ($top has no Makefile)"
tmp=$(mktemp -d /tmp/maild-deb.XXXXXX)
chmod 755 "$tmp"
# ./quickstart demo installs /etc/pam.d/maild: put it aside meanwhile
saved_pam=""
if [ -e /etc/pam.d/maild ]; then
	cp -p /etc/pam.d/maild "$tmp/pam.saved"
	rm -f /etc/pam.d/maild
	saved_pam=yes
fi
tuser=mailddtest		# the mail user, with a password, for PAM
tgecos="maild deb test"
had_worker=""
getent passwd maild >/dev/null && had_worker=yes
maild_pid=""

cleanup() {
	rc=$?
	set +e
	if [ -n "$maild_pid" ]; then
		kill -TERM "$maild_pid" 2>/dev/null
		sleep 1
		kill -KILL "$maild_pid" 2>/dev/null
	fi
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/exe" 2>/dev/null)" = /usr/sbin/maild ] &&
		    kill -KILL "${d#/proc/}" 2>/dev/null
	done
	if dpkg-query -W -f='${Status}' maild 2>/dev/null |
	    grep -qv 'not-installed'; then
		DEBIAN_FRONTEND=noninteractive dpkg --purge maild \
		    </dev/null >/dev/null 2>&1 || echo "deb test: purging maild failed" >&2
	fi
	if getent passwd "$tuser" | cut -d: -f5 | grep -qx "$tgecos"; then
		userdel "$tuser"
	fi
	[ -n "$saved_pam" ] && cp -p "$tmp/pam.saved" /etc/pam.d/maild
	if [ -z "$had_worker" ] && getent passwd maild >/dev/null; then
		deluser --quiet --system maild >/dev/null 2>&1 || userdel maild
		getent group maild >/dev/null && groupdel maild
	fi
	if [ $rc -ne 0 ]; then
		for f in build.log lintian.log apt.log maild.log swaks.log; do
			[ -s "$tmp/$f" ] || continue
			echo "---- $f"; tail -40 "$tmp/$f"
		done
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "deb test: kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

. "$top/tests/install/lib.sh"

# --- build from the tarball -----------------------------------------------------
say "make dist, dpkg-buildpackage -us -uc -b"
version=$(sed -n 's/^VERSION = //p' "$top/Makefile")
tarball=$top/maild-$version.tar.gz
rm -f "$tarball"
(cd "$top" && make -s dist >/dev/null) || fail "make dist"
mkdir "$tmp/src"
tar -xzf "$tarball" -C "$tmp/src" || fail "unpacking $tarball"
cd "$tmp/src/maild-$version"
[ -f debian/control ] || fail "the tarball has no debian/"
dv=$(dpkg-parsechangelog -S Version)
[ "$dv" = "$version" ] ||
    fail "debian/changelog says $dv, configure.ac says $version"
# the test suite ran before this, in the tree: not again inside the build
DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b -Pnocheck \
    </dev/null >"$tmp/build.log" 2>&1 || fail "dpkg-buildpackage"
arch=$(dpkg --print-architecture)
deb=$tmp/src/maild_${version}_$arch.deb
changes=$tmp/src/maild_${version}_$arch.changes
[ -s "$deb" ] || fail "dpkg-buildpackage made no $deb"

say "lintian"
lintian --fail-on error --display-info "$changes" >"$tmp/lintian.log" 2>&1 ||
    { cat "$tmp/lintian.log"; fail "lintian reports errors"; }
if [ -s "$tmp/lintian.log" ]; then
	sed 's/^/  lintian: /' "$tmp/lintian.log"
fi

# --- install ----------------------------------------------------------------------
say "apt-get install ./maild_${version}_$arch.deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "$deb" </dev/null >"$tmp/apt.log" 2>&1 || fail "apt-get install"
dpkg-query -W -f='${Status}' maild | grep -q 'install ok installed' ||
    fail "maild is not installed"

ent=$(getent passwd maild) || fail "postinst made no user maild"
uid=$(echo "$ent" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "maild is not a system user (uid $uid)"
echo "$ent" | grep -q ':/nonexistent:/usr/sbin/nologin$' ||
    fail "maild has a home or a shell: $ent"
getent group maild >/dev/null || fail "postinst made no group maild"
conffiles=$(dpkg-query -W -f='${Conffiles}' maild)
for f in /etc/maild/maild.conf /etc/pam.d/maild; do
	[ -f "$f" ] || fail "$f is not installed"
	echo "$conffiles" | grep -q "^ $f " || fail "$f is not a conffile"
done
[ "$(stat -c %U:%a /var/spool/maild)" = root:711 ] ||
    fail "/var/spool/maild is not root's, mode 711"
[ -d /var/lib/maild/empty ] || fail "no /var/lib/maild/empty (the chroot)"
for f in /usr/sbin/maild /usr/sbin/maild-logsum /usr/libexec/maild/smtpd \
    /usr/libexec/maild/pop3d /usr/share/man/man8/maild-logsum.8.gz \
    /usr/share/man/man8/maild.8.gz /usr/share/man/man5/maild.conf.5.gz \
    /usr/share/man/man5/maild-aliases.5.gz /usr/share/man/man5/maild-forward.5.gz \
    /usr/share/man/man8/maild-smtpd.8.gz /usr/share/man/man8/maild-pop3d.8.gz \
    /usr/share/man/man1/sendmail.1.gz /usr/sbin/sendmail \
    /usr/share/doc/maild/copyright; do
	[ -f "$f" ] || fail "$f is not installed"
done
# the host's MTA: the names every MTA package gives its sendmail
for f in /usr/bin/mailq /usr/bin/newaliases; do
	[ "$(readlink -f "$f")" = /usr/sbin/sendmail ] ||
	    fail "$f is not a link to /usr/sbin/sendmail"
done
[ ! -u /usr/sbin/sendmail ] && [ ! -g /usr/sbin/sendmail ] ||
    fail "/usr/sbin/sendmail is setuid or setgid"
dpkg-query -W -f='${Provides} ${Conflicts} ${Replaces}\n' maild |
    grep -q 'mail-transport-agent.*mail-transport-agent.*mail-transport-agent' ||
    fail "maild does not provide, conflict with and replace mail-transport-agent"
[ -L /etc/systemd/system/multi-user.target.wants/maild.service ] ||
    fail "maild.service is not enabled"
for s in maild-smtpd.socket maild-pop3d.socket; do
	[ -f "/lib/systemd/system/$s" ] || fail "$s is not installed"
	[ ! -e "/etc/systemd/system/sockets.target.wants/$s" ] ||
	    fail "$s is enabled (it must not be, beside maild.service)"
done
out=$(systemd-analyze verify --man=no /lib/systemd/system/maild.service \
    /lib/systemd/system/maild-smtpd.socket /lib/systemd/system/maild-smtpd@.service \
    /lib/systemd/system/maild-pop3d.socket /lib/systemd/system/maild-pop3d@.service \
    2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
/usr/sbin/maild -t || fail "maild -t rejects the packaged config"

# --- run it: the packaged config on loopback high ports -------------------------
say "run the packaged maild on loopback, swaks, curl pop3://"
smtp_port=$(free_port)
pop3_port=$(free_port)
while [ "$pop3_port" = "$smtp_port" ]; do pop3_port=$(free_port); done
conf=$tmp/maild.conf
sed -e "s|^\(	listen = \)\[ \"\*:25\" \];|\1[ \"127.0.0.1:$smtp_port\" ];|" \
    -e "s|^\(	listen = \)\[ \"\*:110\" \];|\1[ \"127.0.0.1:$pop3_port\" ];|" \
    -e "s|^#spool_dir = .*|spool_dir = \"$tmp/mail\";|" \
    -e "s|^#pid_file = .*|pid_file = \"$tmp/maild.pid\";|" \
    -e "s|^\(	\)#socket = .*|\1socket = \"$tmp/maild.submit\";|" \
    /etc/maild/maild.conf >"$conf"
n=$(diff /etc/maild/maild.conf "$conf" | grep -c '^>' || true)
[ "$n" -eq 5 ] || fail "the config edit changed $n lines, not 5"
install -d -m 2775 -g mail "$tmp/mail"
/usr/sbin/maild -t -c "$conf" || fail "maild -t rejects the edited copy"

if getent passwd "$tuser" >/dev/null; then
	getent passwd "$tuser" | cut -d: -f5 | grep -qx "$tgecos" ||
	    fail "user $tuser exists and is not this test's"
	userdel "$tuser"
fi
useradd -M -d /nonexistent -s /usr/sbin/nologin -c "$tgecos" "$tuser" ||
    fail "useradd $tuser"
pw=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
echo "$tuser:$pw" | chpasswd || fail "chpasswd"

/usr/sbin/maild -f -c "$conf" </dev/null >"$tmp/maild.log" 2>&1 &
maild_pid=$!
wait_port "$smtp_port"
wait_port "$pop3_port"
mark="deb-$$-$(date +%s)"
timeout 30 swaks --server "127.0.0.1:$smtp_port" --from admin@example.org \
    --to "$tuser@localhost" --header "Subject: $mark" --body "$mark" \
    >"$tmp/swaks.log" 2>&1 || fail "swaks to the packaged maild"
i=0
until grep -qF "$mark" "$tmp/mail/$tuser" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "the mail did not arrive in $tmp/mail/$tuser"
	sleep 0.2
done
timeout 30 curl -sS -u "$tuser:$pw" "pop3://127.0.0.1:$pop3_port/1" \
    >"$tmp/pop3-1" || fail "curl pop3:// RETR 1 (PAM service maild)"
grep -q "^Subject: $mark" "$tmp/pop3-1" || fail "POP3 RETR 1 is not the mail sent"
# and from the packaged sendmail, as cron would
printf 'To: %s@localhost\nSubject: %s-sendmail\n\ncron output\n' "$tuser" "$mark" |
    timeout 30 /usr/sbin/sendmail -C "$conf" -t || fail "/usr/sbin/sendmail -t"
i=0
until grep -qF "$mark-sendmail" "$tmp/mail/$tuser" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "the mail from sendmail did not arrive"
	sleep 0.2
done
kill -TERM "$maild_pid"
i=0
while kill -0 "$maild_pid" 2>/dev/null &&
    ! grep -q '^State:.*zombie' "/proc/$maild_pid/status" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 200 ] || fail "maild did not stop within 40 s of SIGTERM"
	sleep 0.2
done
rc=0
wait "$maild_pid" || rc=$?
maild_pid=""
[ $rc -eq 0 ] || fail "maild exited $rc after SIGTERM"

# --- remove, then purge ------------------------------------------------------------
say "apt-get remove, then purge"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q maild </dev/null \
    >>"$tmp/apt.log" 2>&1 || fail "apt-get remove"
[ ! -e /usr/sbin/maild ] || fail "remove left /usr/sbin/maild"
[ ! -e /usr/libexec/maild ] || fail "remove left /usr/libexec/maild"
[ -f /etc/maild/maild.conf ] || fail "remove took the config (a conffile)"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q maild </dev/null \
    >>"$tmp/apt.log" 2>&1 || fail "apt-get purge"
st=$(dpkg-query -W -f='${Status}' maild 2>/dev/null || true)
case $st in
"" | *not-installed) ;;
*) fail "after purge, dpkg says maild is: $st" ;;
esac
for f in /etc/maild /etc/pam.d/maild /var/spool/maild /var/lib/maild \
    /lib/systemd/system/maild.service \
    /etc/systemd/system/multi-user.target.wants/maild.service; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || fail "purge left $f"
done
left=$(find /etc/systemd /var/lib/systemd -name 'maild*' 2>/dev/null || true)
[ -z "$left" ] || fail "purge left systemd state: $left"
getent passwd maild >/dev/null ||
    fail "purge removed the system user maild (Debian keeps system users)"

say "passed"
