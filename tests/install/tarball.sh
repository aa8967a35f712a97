#!/bin/sh
# The tarball path, as a newcomer takes it (README, "Installing"), checked
# step by step: make dist; unpack in a fresh directory; ./configure with
# ordinary options; make; make install into a scratch root (DESTDIR) and
# check the file list; then configure for a private prefix and install for
# real; create the workers' user; maild -t on the installed example config
# unchanged; edit it minimally; start the installed maild, send a mail with
# swaks, read it over POP3 with curl, stop maild with SIGTERM; run the
# installed smtpd -i and pop3d -i under xinetd for one SMTP and one POP3
# session; make uninstall leaves only the config and the mail.
#
# Run by ./quickstart test, as root (it adds users, a PAM service file and
# binds loopback ports): from the top of a configured tree,
#   sh tests/install/tarball.sh
# Exit 0 on success, 77 when skipped (not root), 1 on failure. Everything
# it makes (users, /etc/pam.d/maild-insttest, processes, files) goes at the
# end, whatever happens; KEEP=1 keeps the scratch directory.
set -eu

say() { printf '==> install test: %s\n' "$*"; }
fail() { printf 'install test FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "install test skipped: it must run as root (it installs, adds" \
	    "users and a PAM service file, and binds ports)" >&2
	exit 77
fi
for t in make tar swaks curl xinetd python3 useradd userdel chpasswd \
    timeout systemd-analyze; do
	command -v "$t" >/dev/null ||
	    fail "$t is missing (./quickstart test installs what this needs)"
done

top=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$top/Makefile" ] || fail "run it from a configured tree ($top has no Makefile)"
jobs=$(nproc 2>/dev/null || echo 2)

tmp=$(mktemp -d /tmp/maild-install.XXXXXX)
chmod 755 "$tmp"
P=$tmp/inst			# the private prefix of the real install
pamsvc=maild-insttest		# its PAM service, a copy of the installed one
tuser=mailditest		# the mail user, with a password, for PAM
tgecos="maild install test"
made_worker=""
maild_pid=""
xinetd_pid=""

# Processes still running from the private prefix (ours: a maild that did
# not stop, an inetd session), by pid.
prefix_pids() {
	for pd in /proc/[0-9]*; do
		exe=$(readlink "$pd/exe" 2>/dev/null) || continue
		case $exe in "$P"/*) echo "${pd#/proc/}" ;; esac
	done
}

cleanup() {
	rc=$?
	set +e
	[ -n "$xinetd_pid" ] && kill -TERM "$xinetd_pid" 2>/dev/null
	[ -n "$maild_pid" ] && kill -TERM "$maild_pid" 2>/dev/null
	i=0
	while [ -n "$(prefix_pids)" ] && [ $i -lt 50 ]; do
		sleep 0.2; i=$((i + 1))
	done
	for p in $(prefix_pids); do kill -KILL "$p" 2>/dev/null; done
	[ -n "$xinetd_pid" ] && wait "$xinetd_pid" 2>/dev/null
	rm -f "/etc/pam.d/$pamsvc"
	if getent passwd "$tuser" | cut -d: -f5 | grep -qx "$tgecos"; then
		userdel "$tuser"
	fi
	if [ -n "$made_worker" ]; then
		userdel maild
		getent group maild >/dev/null && groupdel maild
	fi
	if [ $rc -ne 0 ]; then
		for f in build.log maild.log xinetd.log swaks.log swaks2.log; do
			[ -s "$tmp/$f" ] || continue
			echo "---- $f"; tail -40 "$tmp/$f"
		done
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "install test: kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

. "$top/tests/install/lib.sh"

# Waits (at most 20 s) until file $1 contains $2.
wait_grep() {
	i=0
	until grep -qF "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "\"$2\" did not arrive in $1"
		sleep 0.2
	done
}

# --- make dist, unpack, configure, make ---------------------------------------
say "make dist"
version=$(sed -n 's/^VERSION = //p' "$top/Makefile")
tarball=$top/maild-$version.tar.gz
rm -f "$tarball"
(cd "$top" && make -s dist >/dev/null) || fail "make dist"
[ -s "$tarball" ] || fail "make dist made no $tarball"
mkdir "$tmp/src"
tar -xzf "$tarball" -C "$tmp/src" || fail "unpacking $tarball"
src=$tmp/src/maild-$version
cd "$src"
[ -x configure ] || fail "the tarball has no configure"

say "./configure --prefix=/usr/local --sysconfdir=/etc; make; make install DESTDIR="
./configure -q --prefix=/usr/local --sysconfdir=/etc \
    --with-systemdunitdir=/usr/local/lib/systemd/system >"$tmp/build.log" 2>&1 ||
    fail "configure"
make -s -j"$jobs" >>"$tmp/build.log" 2>&1 || fail "make"
d=$tmp/destdir
make -s install DESTDIR="$d" >>"$tmp/build.log" 2>&1 ||
    fail "make install DESTDIR=$d"

# the conventional files, and nothing else
cat >"$tmp/want" <<'EOF'
etc/maild/maild.conf
etc/pam.d/maild
usr/local/lib/systemd/system/maild-pop3d.socket
usr/local/lib/systemd/system/maild-pop3d@.service
usr/local/lib/systemd/system/maild-smtpd.socket
usr/local/lib/systemd/system/maild-smtpd@.service
usr/local/lib/systemd/system/maild.service
usr/local/libexec/maild/pop3d
usr/local/libexec/maild/smtpd
usr/local/sbin/maild
usr/local/sbin/maild-logsum
usr/local/sbin/mailq
usr/local/sbin/newaliases
usr/local/sbin/sendmail
usr/local/share/man/man1/mailq.1
usr/local/share/man/man1/newaliases.1
usr/local/share/man/man1/sendmail.1
usr/local/share/man/man5/maild-aliases.5
usr/local/share/man/man5/maild-forward.5
usr/local/share/man/man5/maild.conf.5
usr/local/share/man/man8/maild-logsum.8
usr/local/share/man/man8/maild-pop3d.8
usr/local/share/man/man8/maild-smtpd.8
usr/local/share/man/man8/maild.8
EOF
(cd "$d" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort) >"$tmp/got"
diff -u "$tmp/want" "$tmp/got" || fail "make install: not the expected files"
for f in usr/local/sbin/maild usr/local/sbin/maild-logsum \
    usr/local/sbin/sendmail \
    usr/local/libexec/maild/smtpd usr/local/libexec/maild/pop3d; do
	[ "$(stat -c %a "$d/$f")" = 755 ] || fail "$f is not mode 755"
done
for f in mailq newaliases; do
	[ "$(readlink "$d/usr/local/sbin/$f")" = sendmail ] ||
	    fail "usr/local/sbin/$f is not a link to sendmail"
done
for dir in usr/local/var/lib/maild/empty usr/local/var/spool/maild \
    usr/local/var/run; do
	[ -d "$d/$dir" ] || fail "make install made no $dir"
done
[ "$(stat -c %a "$d/usr/local/var/spool/maild")" = 711 ] ||
    fail "the queue directory is not mode 711"
grep -q '^ExecStart=/usr/local/sbin/maild -f$' \
    "$d/usr/local/lib/systemd/system/maild.service" ||
    fail "maild.service does not run /usr/local/sbin/maild"
grep -q '^ExecStart=/usr/local/libexec/maild/smtpd -i$' \
    "$d/usr/local/lib/systemd/system/maild-smtpd@.service" ||
    fail "maild-smtpd@.service does not run /usr/local/libexec/maild/smtpd -i"
grep -q '^#spool_dir = "/var/mail";$' "$d/etc/maild/maild.conf" ||
    fail "the installed config does not show the default spool_dir"
make -s uninstall DESTDIR="$d" >>"$tmp/build.log" 2>&1 ||
    fail "make uninstall DESTDIR=$d"
left=$(cd "$d" && find . ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"

# --enable-sendmail-links: the names a package gives it, as the host's MTA
say "./configure --enable-sendmail-links; make install DESTDIR="
./configure -q --prefix=/usr/local --sysconfdir=/etc \
    --with-systemdunitdir=/usr/local/lib/systemd/system \
    --enable-sendmail-links >>"$tmp/build.log" 2>&1 ||
    fail "configure --enable-sendmail-links"
d2=$tmp/destdir-links
make -s install DESTDIR="$d2" >>"$tmp/build.log" 2>&1 ||
    fail "make install DESTDIR=$d2 (sendmail links)"
for f in usr/sbin/sendmail usr/bin/mailq usr/bin/newaliases; do
	[ "$(readlink "$d2/$f")" = /usr/local/sbin/sendmail ] ||
	    fail "$f is not a link to /usr/local/sbin/sendmail"
done
make -s uninstall DESTDIR="$d2" >>"$tmp/build.log" 2>&1 ||
    fail "make uninstall DESTDIR=$d2"
left=$(cd "$d2" && find . ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"

# --- the real install, into a private prefix ----------------------------------
say "./configure --prefix=$P --sysconfdir=$P/etc; make; make install"
make -s distclean >>"$tmp/build.log" 2>&1 || fail "make distclean"
./configure -q --prefix="$P" --sysconfdir="$P/etc" \
    --with-systemdunitdir="$P/lib/systemd/system" >>"$tmp/build.log" 2>&1 ||
    fail "configure for $P"
make -s -j"$jobs" >>"$tmp/build.log" 2>&1 || fail "make"
make -s install >>"$tmp/build.log" 2>&1 || fail "make install"
out=$(systemd-analyze verify --man=no "$P"/lib/systemd/system/* 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"

say "the workers' user, maild -t on the installed example"
if ! getent passwd maild >/dev/null; then
	useradd -r -d /nonexistent -s /usr/sbin/nologin maild ||
	    fail "useradd maild"
	made_worker=yes
fi
conf=$P/etc/maild/maild.conf
"$P/sbin/maild" -t || fail "maild -t rejects the installed example config"

# --- edit the config: loopback high ports, our spool, our PAM service -------
say "edit the config, maild -t"
smtp_port=$(free_port)
pop3_port=$(free_port)
while [ "$pop3_port" = "$smtp_port" ]; do pop3_port=$(free_port); done
cp "$conf" "$tmp/maild.conf.orig"
sed -i \
    -e "s|^\(	listen = \)\[ \"\*:25\" \];|\1[ \"127.0.0.1:$smtp_port\" ];|" \
    -e "s|^\(	listen = \)\[ \"\*:110\" \];|\1[ \"127.0.0.1:$pop3_port\" ];|" \
    -e "s|^#spool_dir = .*|spool_dir = \"$P/var/mail\";|" \
    -e "s|^#pam_service = .*|pam_service = \"$pamsvc\";|" "$conf"
n=$(diff "$tmp/maild.conf.orig" "$conf" | grep -c '^>' || true)
[ "$n" -eq 4 ] || fail "the config edit changed $n lines, not 4"
install -d -m 2775 -g mail "$P/var/mail"
install -m 644 "$P/etc/pam.d/maild" "/etc/pam.d/$pamsvc"
"$P/sbin/maild" -t || fail "maild -t rejects the edited config"

# a real user with a password, checked by the real PAM stack
if getent passwd "$tuser" >/dev/null; then
	getent passwd "$tuser" | cut -d: -f5 | grep -qx "$tgecos" ||
	    fail "user $tuser exists and is not this test's"
	userdel "$tuser"
fi
useradd -M -d /nonexistent -s /usr/sbin/nologin -c "$tgecos" "$tuser" ||
    fail "useradd $tuser"
pw=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
echo "$tuser:$pw" | chpasswd || fail "chpasswd"

# --- the installed maild: SMTP in, POP3 out, SIGTERM --------------------------
say "start maild, swaks, curl pop3://, SIGTERM"
"$P/sbin/maild" -f </dev/null >"$tmp/maild.log" 2>&1 &
maild_pid=$!
wait_port "$smtp_port"
wait_port "$pop3_port"
mark1="standalone-$$-$(date +%s)"
timeout 30 swaks --server "127.0.0.1:$smtp_port" --from newcomer@example.org \
    --to "$tuser@localhost" --header "Subject: $mark1" --body "$mark1" \
    >"$tmp/swaks.log" 2>&1 || fail "swaks to maild"
wait_grep "$P/var/mail/$tuser" "$mark1"
[ "$(stat -c %U:%G "$P/var/mail/$tuser")" = "$tuser:mail" ] ||
    fail "the maildrop is not $tuser:mail"
timeout 30 curl -sS -u "$tuser:$pw" "pop3://127.0.0.1:$pop3_port/1" \
    >"$tmp/pop3-1" || fail "curl pop3:// RETR 1"
grep -q "^Subject: $mark1" "$tmp/pop3-1" || fail "POP3 RETR 1 is not the mail sent"
# the installed sendmail, as cron uses it (default config and socket)
printf 'To: %s@localhost\nSubject: %s-sendmail\n\ncron output\n' "$tuser" "$mark1" |
    timeout 30 "$P/sbin/sendmail" -t || fail "sendmail -t"
wait_grep "$P/var/mail/$tuser" "$mark1-sendmail"
if timeout 30 curl -sS -u "$tuser:wrong$pw" "pop3://127.0.0.1:$pop3_port/" \
    >/dev/null 2>&1; then
	fail "POP3 accepted a wrong password"
fi

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
i=0
while [ -n "$(prefix_pids)" ]; do
	i=$((i + 1))
	[ $i -le 50 ] || fail "processes left after maild stopped: $(prefix_pids)"
	sleep 0.2
done

# --- under a real inetd (xinetd, in the foreground, private config) ---------
say "smtpd -i and pop3d -i under xinetd"
smtp2=$(free_port)
pop32=$(free_port)
while [ "$pop32" = "$smtp2" ]; do pop32=$(free_port); done
cat >"$tmp/xinetd.conf" <<EOF
defaults
{
	instances = 8
}
service maild-insttest-smtp
{
	type = UNLISTED
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
	bind = 127.0.0.1
	port = $smtp2
	server = $P/libexec/maild/smtpd
	server_args = -i
}
service maild-insttest-pop3
{
	type = UNLISTED
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
	bind = 127.0.0.1
	port = $pop32
	server = $P/libexec/maild/pop3d
	server_args = -i
}
EOF
xinetd -dontfork -f "$tmp/xinetd.conf" -pidfile "$tmp/xinetd.pid" \
    -filelog "$tmp/xinetd.log" </dev/null >>"$tmp/xinetd.log" 2>&1 &
xinetd_pid=$!
wait_port "$smtp2"
wait_port "$pop32"
mark2="inetd-$$-$(date +%s)"
timeout 30 swaks --server "127.0.0.1:$smtp2" --from newcomer@example.org \
    --to "$tuser@localhost" --header "Subject: $mark2" --body "$mark2" \
    >"$tmp/swaks2.log" 2>&1 || fail "swaks to smtpd -i"
wait_grep "$P/var/mail/$tuser" "$mark2"
timeout 30 curl -sS -u "$tuser:$pw" "pop3://127.0.0.1:$pop32/" \
    >"$tmp/pop3-list" || fail "curl pop3:// LIST under xinetd"
# swaks's and sendmail's mail from the standalone run, and this one
[ "$(grep -c '^[0-9]* [0-9]*' "$tmp/pop3-list")" -eq 3 ] ||
    fail "POP3 LIST under xinetd does not show the 3 mails"
timeout 30 curl -sS -u "$tuser:$pw" "pop3://127.0.0.1:$pop32/3" \
    >"$tmp/pop3-2" || fail "curl pop3:// RETR 3 under xinetd"
grep -q "^Subject: $mark2" "$tmp/pop3-2" ||
    fail "POP3 RETR 3 under xinetd is not the mail sent"
kill -TERM "$xinetd_pid"
wait "$xinetd_pid" || true
xinetd_pid=""

# --- make uninstall: only the config (edited) and the mail stay --------------
say "make uninstall"
i=0
while [ -n "$(prefix_pids)" ]; do
	i=$((i + 1))
	[ $i -le 50 ] || fail "inetd sessions still running: $(prefix_pids)"
	sleep 0.2
done
make -s uninstall >>"$tmp/build.log" 2>&1 || fail "make uninstall"
left=$(cd "$P" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort | grep -v \
    -e '^etc/maild/maild\.conf$' -e '^var/mail/' -e '^var/spool/maild/' \
    -e '^var/lib/maild/' -e '^var/run/maild\.pid$' \
    -e '^var/run/maild\.submit$' || true)
[ -z "$left" ] || fail "make uninstall left: $left"
[ -f "$conf" ] || fail "make uninstall removed the edited config"
grep -qF "$mark2" "$P/var/mail/$tuser" || fail "make uninstall removed the mail"

say "passed"
