#!/bin/sh
# edge-runner installer: downloads a release, verifies the signature of SHA256SUMS (Ed25519, with
# openssl, against the key below) and the SHA-256 of every file it uses, then installs the
# executable, its config and state directories, the runner key pair and the systemd unit.
#
#   curl -fsSL https://<release host>/install.sh | sh -s -- --runner-id r1 --api-key-file ./key
#   sh install.sh --help
#
# Everything runs inside main(), called on the last line, so a download cut short never runs
# half a script.
set -eu

DEFAULT_BASE_URL="https://github.com/edge-runner/edge-runner/releases/latest/download"

# The release signing key (keys/release-public.jwk as SPKI PEM; a test keeps the two identical).
RELEASE_PUBLIC_KEY_PEM='-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAdPRVY1FN0lTwSrsVVgNhPB4bYd9Pj0vZ5IW6LtgTo2c=
-----END PUBLIC KEY-----'

usage() {
	cat <<'EOF'
Usage: install.sh [options]        (or: curl -fsSL <url>/install.sh | sh -s -- [options])

Installs edge-runner: verifies the release (SHA256SUMS signed with Ed25519, SHA-256 of each
file), installs the executable, creates the edge-runner user, /etc/edge-runner (config, 0750)
and /var/lib/edge-runner (state, 0700), the runner key pair, and the systemd unit.
Running it again changes nothing.

Source:
  --base-url URL          Release location (default: the project's latest release;
                          env EDGE_RUNNER_BASE_URL). A mirror or file:// URL works.
  --from-dir DIR          Take the release files from a local directory (air-gapped hosts).
  --public-key FILE       Trust this Ed25519 public key (PEM) instead of the built-in one.
  --insecure-skip-signature
                          Do not verify SHA256SUMS.jws (checksums are still checked). Never in
                          production.
Config (written to /etc/edge-runner/config.json; given flags replace the file, the old one is
kept as config.json.bak-<time>):
  --runner-id ID          This runner's id, as registered with the controller.
  --controller-url URL    Base URL of the controller (https://...).
  --group NAME            Runner group.
  --api-key-file FILE     File holding the API key; copied to /etc/edge-runner/api-key (0600).
Proxy (an HTTP forward proxy for this installer's downloads and for the service):
  --proxy URL             http://[user:password@]host:port. The downloads go through it, and it is
                          written to /etc/edge-runner/proxy.env (root, 0600), which the service
                          reads. Without --proxy an existing proxy.env is kept (and used for the
                          downloads); --proxy "" removes it. A password given here is visible to
                          other local users (ps) while this runs: use --proxy-file for one.
  --proxy-file FILE       As --proxy, the URL read from the first line of FILE, which must not be
                          readable by group or others when it holds a password (chmod 600).
  --no-proxy LIST         With --proxy(-file): hosts, domains, IPs and CIDRs that go direct
                          (comma-separated, e.g. localhost,127.0.0.1,.corp,10.0.0.0/8).
Layout:
  --prefix DIR            Install the executable to DIR/bin (default /usr/local).
  --root DIR              Install into DIR as if it were / (images, tests); runs no service.
  --user NAME             Service user (default edge-runner).
  --no-user               Do not create the service user (files are owned by the caller).
  --no-systemd            Do not install the systemd unit.
  --no-keygen             Do not create the runner key pair.
  --no-start              Install and enable the service, but do not start it.
Actions:
  --upgrade               Replace an installed executable (atomically) and restart the service.
  --allow-downgrade       With --upgrade: allow installing an older version than the installed one.
  --uninstall             Remove the executable and the unit; keep config, state and keys.
  --purge                 Also remove /etc/edge-runner, /var/lib/edge-runner and the user.
  -h, --help              Show this help.
Exit status: 0 done, 64 a bad option or value (nothing was changed), 1 any other failure.
Environment:
  EDGE_RUNNER_VERSION_TIMEOUT
                          Seconds an executable's --version may take (default 10).
EOF
}

say() { printf 'edge-runner install: %s\n' "$*"; }
warn() { printf 'edge-runner install: warning: %s\n' "$*" >&2; }
die() {
	printf 'edge-runner install: error: %s\n' "$*" >&2
	exit 1
}
# A bad option or value: EX_USAGE (64), as the edge-runner CLI exits for one.
die_usage() {
	printf 'edge-runner install: error: %s\n' "$*" >&2
	exit 64
}

parse_args() {
	BASE_URL=${EDGE_RUNNER_BASE_URL:-$DEFAULT_BASE_URL}
	FROM_DIR="" PUBLIC_KEY_FILE="" SKIP_SIGNATURE=0
	RUNNER_ID="" CONTROLLER_URL="" GROUP="" API_KEY_SOURCE=""
	PREFIX=/usr/local ROOT="" SERVICE_USER=edge-runner
	NO_USER=0 NO_SYSTEMD=0 NO_KEYGEN=0 NO_START=0 ALLOW_DOWNGRADE=0
	ACTION=install
	VERSION_TIMEOUT=${EDGE_RUNNER_VERSION_TIMEOUT:-10}
	# PROXY_ACTION: keep (no --proxy: an existing proxy.env stays), write, or remove (--proxy "").
	PROXY_ACTION=keep PROXY_ARG="" PROXY_FILE="" NO_PROXY_ARG="" NO_PROXY_GIVEN=0
	while [ $# -gt 0 ]; do
		case $1 in
		--proxy | --no-proxy)
			# "" is a value here: --proxy "" removes the proxy, --no-proxy "" lists nothing.
			[ $# -ge 2 ] || die_usage "option \"$1\" needs a value"
			case $1 in
			--proxy) PROXY_ARG=$2 PROXY_ACTION=write ;;
			--no-proxy) NO_PROXY_ARG=$2 NO_PROXY_GIVEN=1 ;;
			esac
			shift 2
			continue
			;;
		--base-url | --from-dir | --public-key | --runner-id | --controller-url | --group | --api-key-file | --proxy-file | --prefix | --root | --user)
			if [ $# -lt 2 ] || [ -z "$2" ]; then die_usage "option \"$1\" needs a value"; fi
			case $1 in
			--base-url) BASE_URL=$2 ;;
			--from-dir) FROM_DIR=$2 ;;
			--public-key) PUBLIC_KEY_FILE=$2 ;;
			--runner-id) RUNNER_ID=$2 ;;
			--controller-url) CONTROLLER_URL=$2 ;;
			--group) GROUP=$2 ;;
			--api-key-file) API_KEY_SOURCE=$2 ;;
			--proxy-file) PROXY_FILE=$2 ;;
			--prefix) PREFIX=$2 ;;
			--root) ROOT=$2 ;;
			--user) SERVICE_USER=$2 ;;
			esac
			shift 2
			continue
			;;
		--insecure-skip-signature) SKIP_SIGNATURE=1 ;;
		--no-user) NO_USER=1 ;;
		--no-systemd) NO_SYSTEMD=1 ;;
		--no-keygen) NO_KEYGEN=1 ;;
		--no-start) NO_START=1 ;;
		--upgrade) ACTION=upgrade ;;
		--allow-downgrade) ALLOW_DOWNGRADE=1 ;;
		--uninstall) [ "$ACTION" = purge ] || ACTION=uninstall ;;
		--purge) ACTION=purge ;;
		-h | --help)
			usage
			exit 0
			;;
		*) die_usage "unknown option \"$1\" (see --help)" ;;
		esac
		shift
	done
	# Both end up in a sed expression and in paths run as root: a strict pattern, checked first.
	check_path --prefix "$PREFIX"
	[ -z "$ROOT" ] || check_path --root "$ROOT"
	ROOT=${ROOT%/}
	PREFIX=${PREFIX%/}
	case $VERSION_TIMEOUT in "" | *[!0-9]* | 0*) die_usage "invalid value \"$VERSION_TIMEOUT\" for EDGE_RUNNER_VERSION_TIMEOUT: expected whole seconds" ;; esac
	case $SERVICE_USER in *[!a-z0-9_-]* | "" | -*) die_usage "invalid value \"$SERVICE_USER\" for --user: expected lower-case letters, digits, \"_\" or \"-\"" ;; esac
	for value in "$RUNNER_ID" "$CONTROLLER_URL" "$GROUP"; do
		case $value in *[[:cntrl:]\"\\]*) die_usage "invalid value \"$value\": quotes, backslashes and control characters are not allowed" ;; esac
	done
	case $CONTROLLER_URL in "" | http://* | https://*) ;; *) die_usage "invalid value \"$CONTROLLER_URL\" for --controller-url: expected https://..." ;; esac
	check_proxy_args
	# Paths as the installed system sees them, and where this run writes them.
	BIN_RUNTIME=$PREFIX/bin/edge-runner
	BIN=$ROOT$BIN_RUNTIME
	CONF_DIR=$ROOT/etc/edge-runner
	STATE_DIR=$ROOT/var/lib/edge-runner
	UNIT=$ROOT/etc/systemd/system/edge-runner.service
	WANTS_LINK=$ROOT/etc/systemd/system/multi-user.target.wants/edge-runner.service
}

# An absolute path of letters, digits and "._+-/" with no ".." step: nothing a shell, sed or
# systemd would read as anything but a path.
check_path() {
	case $2 in
	/*) ;;
	*) die_usage "invalid value \"$2\" for $1: expected an absolute path" ;;
	esac
	case $2 in
	*[!A-Za-z0-9._+/-]*) die_usage "invalid value \"$2\" for $1: only letters, digits and \"._+-/\" are allowed" ;;
	*/../* | */.. | */./* | */.) die_usage "invalid value \"$2\" for $1: \".\" and \"..\" steps are not allowed" ;;
	esac
}

# --proxy and --no-proxy, checked as the runner checks HTTPS_PROXY and NO_PROXY at start
# (src/platform/proxy.ts), so a value it would refuse is refused here, before anything is done.
check_proxy_args() {
	if [ -n "$PROXY_FILE" ]; then
		[ "$PROXY_ACTION" = keep ] || die_usage "options \"--proxy\" and \"--proxy-file\" exclude each other: give one"
		read_proxy_file
		PROXY_ACTION="write"
	fi
	if [ "$PROXY_ACTION" = write ] && [ -z "$PROXY_ARG" ]; then PROXY_ACTION=remove; fi
	if [ "$NO_PROXY_GIVEN" = 1 ] && [ "$PROXY_ACTION" != write ]; then
		die_usage "option \"--no-proxy\" needs --proxy URL: the list is written with the proxy (give both again to change either)"
	fi
	[ "$PROXY_ACTION" = write ] || return 0
	# The value is never quoted back: it may hold a password.
	parse_proxy "$PROXY_ARG" || die_usage "invalid value for ${PROXY_FILE:+the proxy in }--proxy${PROXY_FILE:+-file}: $PROXY_PROBLEM"
	parse_no_proxy "$NO_PROXY_ARG" || die_usage "invalid value \"$NO_PROXY_ARG\" for --no-proxy: $PROXY_PROBLEM"
	# This process's own command line is readable by every local user while it runs (ps,
	# /proc/PID/cmdline) and is kept in shell history and sudo's log: say so, once.
	if [ -z "$PROXY_FILE" ]; then
		case $PROXY_URL in *@*) warn "the proxy password given with --proxy is visible to other local users (ps) while this runs, and stays in your shell history; give it with --proxy-file FILE (chmod 600) instead" ;; esac
	fi
}

# Sets PROXY_ARG from the first line of --proxy-file, read by the shell itself (no child process
# sees it in its arguments). A URL with a password must be in a file only root and its owner can
# read: the same rule the runner applies to its secret files.
read_proxy_file() {
	if [ ! -f "$PROXY_FILE" ] || [ ! -r "$PROXY_FILE" ]; then die_usage "cannot read --proxy-file \"$PROXY_FILE\""; fi
	PROXY_ARG=""
	IFS= read -r PROXY_ARG <"$PROXY_FILE" || [ -n "$PROXY_ARG" ] || die_usage "refusing --proxy-file \"$PROXY_FILE\": it is empty (--proxy \"\" removes the proxy)"
	# Blanks around the URL, and a CR (a file written on Windows), are not part of it.
	PROXY_ARG=${PROXY_ARG#"${PROXY_ARG%%[![:space:]]*}"}
	PROXY_ARG=${PROXY_ARG%"${PROXY_ARG##*[![:space:]]}"}
	[ -n "$PROXY_ARG" ] || die_usage "refusing --proxy-file \"$PROXY_FILE\": its first line is empty (--proxy \"\" removes the proxy)"
	case $PROXY_ARG in
	*@*)
		# -L: the mode of the file a symlink points to, not the link's own lrwxrwxrwx. Every group
		# and other permission bit must be clear (the runner's mode & 077); setgid (S) and sticky
		# (T) without execute are no access.
		perms=$(ls -lLd -- "$PROXY_FILE")
		case ${perms%% *} in
		????--[-S]--[-T]*) ;;
		*) die_usage "refusing --proxy-file \"$PROXY_FILE\": it holds a password and group or others have some access to it (chmod 600 it)" ;;
		esac
		;;
	esac
}

# Sets PROXY_URL (http://[user:password@]host:port) and PROXY_SHOWN (http://host:port, for
# messages), or PROXY_PROBLEM and fails. Like the runner: http:// only, "host:port" alone means
# http://host:port, no port means 80, at most 2048 characters. Stricter than the runner: the
# user and password must be percent-encoded beyond "._~-!*+,;=", so the value needs no quoting
# in proxy.env (read by systemd and by sh alike) and no character in it means anything to either.
parse_proxy() {
	PROXY_URL="" PROXY_SHOWN="" PROXY_PROBLEM=""
	expected="expected http://host:port or http://user:password@host:port"
	if [ ${#1} -gt 2048 ]; then
		PROXY_PROBLEM="it is ${#1} characters (at most 2048)"
		return 1
	fi
	case $1 in
	[Hh][Tt][Tt][Pp]://*) rest=${1#*://} ;;
	*://*)
		# Named only when it is a well-known scheme: what precedes "://" may be a password.
		scheme=$(printf '%s' "${1%%://*}" | tr '[:upper:]' '[:lower:]')
		case $scheme in https | socks4 | socks4a | socks5 | socks5h) scheme=", not \"$scheme://\"" ;; *) scheme="" ;; esac
		PROXY_PROBLEM="only an http:// forward proxy is supported$scheme (https:// targets go through it with CONNECT)"
		return 1
		;;
	*) rest=$1 ;;
	esac
	rest=${rest%/}
	case $rest in
	*@*) userinfo=${rest%@*} hostport=${rest##*@} ;;
	*) userinfo="" hostport=$rest ;;
	esac
	case $userinfo in
	*[!A-Za-z0-9._~%!*+,\;=:-]*)
		PROXY_PROBLEM="the user and password may hold letters, digits and \"._~-!*+,;=\" only; percent-encode any other character (%40 for @, %24 for \$)"
		return 1
		;;
	esac
	case $hostport in
	\[*\]) host=$hostport port="" ;;
	\[*\]:*) host=${hostport%:*} port=${hostport##*:} ;;
	*:*) host=${hostport%:*} port=${hostport##*:} ;;
	*) host=$hostport port="" ;;
	esac
	case $host in
	\[*\])
		inner=${host#[}
		inner=${inner%]}
		case $inner in "" | *[!0-9A-Fa-f:.]*) host="" ;; esac
		;;
	"" | [.-]* | *[!A-Za-z0-9._-]*) host="" ;;
	esac
	if [ -z "$host" ]; then
		PROXY_PROBLEM="no valid host in it ($expected)"
		return 1
	fi
	case $port in
	"") ;;
	*[!0-9]* | ??????*)
		PROXY_PROBLEM="its port is not a number from 1 to 65535 ($expected)"
		return 1
		;;
	*)
		if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
			PROXY_PROBLEM="its port is not a number from 1 to 65535 ($expected)"
			return 1
		fi
		;;
	esac
	# The port written out: the runner and wget take 80 for a proxy without one, curl 1080.
	if [ -z "$port" ]; then
		rest=$rest:80
		hostport=$hostport:80
	fi
	PROXY_URL="http://$rest"
	PROXY_SHOWN="http://$hostport"
}

# Sets NO_PROXY_LIST: $1 with spaces turned into commas (every client reads commas; not every
# one reads spaces), or PROXY_PROBLEM and fails. At most 16384 characters, as the runner allows.
parse_no_proxy() {
	NO_PROXY_LIST="" PROXY_PROBLEM=""
	if [ ${#1} -gt 16384 ]; then
		PROXY_PROBLEM="it is ${#1} characters (at most 16384)"
		return 1
	fi
	case $1 in
	*[!][A-Za-z0-9._:/,*\ -]*)
		PROXY_PROBLEM="expected host names, domains, IP addresses and CIDRs separated by commas (localhost,127.0.0.1,.corp,10.0.0.0/8)"
		return 1
		;;
	esac
	NO_PROXY_LIST=$(printf '%s' "$1" | tr -s ' ,' ',,' | sed -e 's/^,//' -e 's/,$//')
}

systemd_running() {
	[ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

detect_asset() {
	os=$(uname -s)
	[ "$os" = Linux ] || die "unsupported OS \"$os\": edge-runner releases exist for Linux only"
	machine=$(uname -m)
	case $machine in
	x86_64 | amd64) ASSET=edge-runner-linux-x64 ;;
	aarch64 | arm64) ASSET=edge-runner-linux-arm64 ;;
	*) die "unsupported CPU \"$machine\": edge-runner releases exist for x86_64 and aarch64" ;;
	esac
}

need_tools() {
	if [ "$SKIP_SIGNATURE" = 0 ] && ! command -v openssl >/dev/null 2>&1; then
		die "openssl is needed to verify the release signature; install it (apt-get install openssl), or pass --insecure-skip-signature if you verify releases another way"
	fi
	if [ -z "$FROM_DIR" ] && ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
		die "curl or wget is needed to download the release, or use --from-dir DIR"
	fi
}

fetch() {
	name=$1
	if [ -n "$FROM_DIR" ]; then
		[ -f "$FROM_DIR/$name" ] || die "cannot read \"$FROM_DIR/$name\": no such file"
		cp -- "$FROM_DIR/$name" "$WORK/$name"
	elif command -v curl >/dev/null 2>&1; then
		with_proxy curl -fsSL --retry 3 -o "$WORK/$name" "${BASE_URL%/}/$name" || die "cannot download \"${BASE_URL%/}/$name\"$DOWNLOAD_VIA"
	else
		with_proxy wget -q -O "$WORK/$name" "${BASE_URL%/}/$name" || die "cannot download \"${BASE_URL%/}/$name\"$DOWNLOAD_VIA"
	fi
}

# The downloads' proxy: --proxy, else the installed proxy.env's https_proxy (or HTTPS_PROXY: a
# release is on https, and one proxy for every download is enough), so an upgrade behind a proxy
# needs no flag (sudo does not pass the caller's HTTPS_PROXY on); else whatever curl or wget read
# from this environment themselves.
download_proxy() {
	DOWNLOAD_PROXY="" DOWNLOAD_NO_PROXY="" DOWNLOAD_VIA=""
	[ -z "$FROM_DIR" ] || return 0
	case $PROXY_ACTION in
	write)
		DOWNLOAD_PROXY=$PROXY_URL DOWNLOAD_NO_PROXY=$NO_PROXY_LIST
		DOWNLOAD_VIA=" through proxy \"$PROXY_SHOWN\""
		;;
	keep)
		[ -f "$CONF_DIR/proxy.env" ] || return 0
		saved=$(env_file_value https_proxy) || saved=$(env_file_value HTTPS_PROXY) || return 0
		if ! parse_proxy "$saved"; then
			warn "not using the proxy in /etc/edge-runner/proxy.env for the downloads: $PROXY_PROBLEM"
			return 0
		fi
		DOWNLOAD_PROXY=$PROXY_URL DOWNLOAD_VIA=" through proxy \"$PROXY_SHOWN\" (from /etc/edge-runner/proxy.env)"
		saved=$(env_file_value no_proxy) || saved=$(env_file_value NO_PROXY) || saved=""
		if parse_no_proxy "$saved"; then
			DOWNLOAD_NO_PROXY=$NO_PROXY_LIST
		else
			warn "not using NO_PROXY in /etc/edge-runner/proxy.env for the downloads: $PROXY_PROBLEM"
		fi
		;;
	esac
	[ -z "$DOWNLOAD_VIA" ] || say "downloading$DOWNLOAD_VIA"
}

# The value of the last assignment to $1 in proxy.env (systemd lets the last one win), one pair
# of quotes removed; fails when there is none or it is empty.
env_file_value() {
	v=$(sed -n "s/^[[:space:]]*$1=//p" "$CONF_DIR/proxy.env" | sed -n '$p')
	case $v in
	\"*\" | \'*\')
		v=${v#?}
		v=${v%?}
		;;
	esac
	[ -n "$v" ] && printf '%s\n' "$v"
}

# Runs "$@" (curl or wget) with the download proxy in its environment, both spellings, so it
# overrides any inherited one. Not curl --proxy: a command line is visible to every local user
# (ps), a root process's environment is not.
with_proxy() {
	if [ -z "$DOWNLOAD_PROXY" ]; then
		"$@"
		return
	fi
	(
		http_proxy=$DOWNLOAD_PROXY https_proxy=$DOWNLOAD_PROXY no_proxy=$DOWNLOAD_NO_PROXY
		HTTP_PROXY=$DOWNLOAD_PROXY HTTPS_PROXY=$DOWNLOAD_PROXY NO_PROXY=$DOWNLOAD_NO_PROXY
		export http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY
		exec "$@"
	)
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	else
		openssl dgst -sha256 -r "$1" | cut -d' ' -f1
	fi
}

b64url_decode() {
	s=$(printf '%s' "$1" | tr '_-' '/+')
	case $((${#s} % 4)) in
	2) s="$s==" ;;
	3) s="$s=" ;;
	1) return 1 ;;
	esac
	printf '%s\n' "$s" | openssl base64 -d -A
}

# SHA256SUMS.jws is "<header>..<signature>": EdDSA over "<header>.<SHA256SUMS bytes>" (RFC 7797).
verify_signature() {
	if [ "$SKIP_SIGNATURE" = 1 ]; then
		warn "**********************************************************************"
		warn "NOT verifying the release signature (--insecure-skip-signature)."
		warn "Anyone who can change the download can run code on this host as root."
		warn "**********************************************************************"
		return 0
	fi
	refuse="refusing the release: SHA256SUMS.jws"
	jws=$(tr -d ' \r\n' <"$WORK/SHA256SUMS.jws")
	case $jws in "" | *[!A-Za-z0-9_.-]*) die "$refuse is not a compact JWS" ;; esac
	header=${jws%%..*}
	sig=${jws#*..}
	case $header$sig in *.*) die "$refuse is not a compact JWS with a detached payload" ;; esac
	if [ -z "$header" ] || [ -z "$sig" ] || [ "$header..$sig" != "$jws" ]; then die "$refuse is not a compact JWS with a detached payload"; fi
	b64url_decode "$header" >"$WORK/jws-header.json" 2>/dev/null || die "$refuse has an undecodable header"
	if ! grep -q '"alg":"EdDSA"' "$WORK/jws-header.json" || ! grep -q '"b64":false' "$WORK/jws-header.json"; then
		die "$refuse must be alg EdDSA with b64 false"
	fi
	b64url_decode "$sig" >"$WORK/signature.bin" 2>/dev/null || die "$refuse has an undecodable signature"
	[ "$(wc -c <"$WORK/signature.bin" | tr -d ' ')" = 64 ] || die "$refuse is not an Ed25519 signature"
	printf '%s.' "$header" >"$WORK/signed-input"
	cat "$WORK/SHA256SUMS" >>"$WORK/signed-input"
	if [ -n "$PUBLIC_KEY_FILE" ]; then
		cp -- "$PUBLIC_KEY_FILE" "$WORK/release-public.pem" || die "cannot read --public-key \"$PUBLIC_KEY_FILE\""
	else
		printf '%s\n' "$RELEASE_PUBLIC_KEY_PEM" >"$WORK/release-public.pem"
	fi
	if ! out=$(openssl pkeyutl -verify -pubin -inkey "$WORK/release-public.pem" -rawin \
		-in "$WORK/signed-input" -sigfile "$WORK/signature.bin" 2>&1) ||
		! printf '%s' "$out" | grep -q 'Verified Successfully'; then
		die "$refuse does not match the release public key: SHA256SUMS was altered or signed by someone else"
	fi
	say "verified the signature of SHA256SUMS"
}

verify_checksum() {
	name=$1
	expected=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$WORK/SHA256SUMS")
	case $expected in
	"") die "refusing \"$name\": it is not listed in SHA256SUMS" ;;
	*[!0-9a-f]* | *"
"*) die "refusing \"$name\": SHA256SUMS has no single valid entry for it" ;;
	esac
	[ ${#expected} = 64 ] || die "refusing \"$name\": SHA256SUMS has no valid entry for it"
	actual=$(sha256_of "$WORK/$name")
	[ "$actual" = "$expected" ] || die "refusing \"$name\": its SHA-256 is $actual, SHA256SUMS says $expected"
}

download_release() {
	for f in SHA256SUMS SHA256SUMS.jws "$ASSET"; do fetch "$f"; done
	[ "$NO_SYSTEMD" = 1 ] || fetch edge-runner.service
	verify_signature
	verify_checksum "$ASSET"
	[ "$NO_SYSTEMD" = 1 ] || verify_checksum edge-runner.service
	chmod 0755 "$WORK/$ASSET"
	NEW_VERSION=$(version_line "$WORK/$ASSET") || die "the verified executable \"$ASSET\" does not run on this machine (or did not answer --version within $VERSION_TIMEOUT s)"
	new=$(printf '%s\n' "$NEW_VERSION" | version_of)
	semver_compare "$new" "$new" >/dev/null || die "refusing the release: its version \"$NEW_VERSION\" is not a semantic version"
	say "verified $NEW_VERSION"
}

# Installs $1 as $2 with mode $3 and owner $4 unless $2 already has those bytes; the rename is
# atomic, so a reader (or a starting service) never sees a half-written file. Sets CHANGED=1.
put_file() {
	CHANGED=0
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		chmod "$3" "$2"
		chown "$4" "$2"
		return 0
	fi
	tmp="$(dirname "$2")/.$(basename "$2").new.$$"
	cp "$1" "$tmp"
	chmod "$3" "$tmp"
	chown "$4" "$tmp"
	mv -f "$tmp" "$2"
	CHANGED=1
}

# "edge-runner 1.2.3 (commit …)" -> "1.2.3"
version_of() { sed -n '1s/^edge-runner \([0-9][^ ]*\).*/\1/p'; }

# The first line of "$1 --version", or failure. An executable this script did not verify (the
# installed one) may hang: the call is bounded, so the installer never hangs with it.
version_line() {
	if command -v timeout >/dev/null 2>&1; then
		timeout -k 2 "$VERSION_TIMEOUT" "$1" --version >"$WORK/version.out" 2>/dev/null || return 1
	else
		"$1" --version >"$WORK/version.out" 2>/dev/null &
		vpid=$!
		(
			sleep "$VERSION_TIMEOUT"
			kill -9 "$vpid" 2>/dev/null
		) &
		wpid=$!
		wait "$vpid" || {
			kill "$wpid" 2>/dev/null
			return 1
		}
		kill "$wpid" 2>/dev/null || true
	fi
	sed -n '1p' "$WORK/version.out"
}

# Semantic-version precedence with the rules of `edge-runner update` (src/ops/version-compare.ts;
# a test compares the two): prints -1, 0 or 1 for $1 against $2, and fails when either is not
# MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]. Build metadata is ignored; a pre-release ranks below
# its release; numeric identifiers compare as numbers and below alphanumeric ones.
semver_compare() {
	LC_ALL=C awk -v a="$1" -v b="$2" '
	function valid(v) {
		return v ~ /^(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)[.](0|[1-9][0-9]*)(-[0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?$/
	}
	function num(x, y) {
		sub(/^0+/, "", x); sub(/^0+/, "", y)
		if (length(x) != length(y)) return length(x) < length(y) ? -1 : 1
		return x < y ? -1 : x > y ? 1 : 0
	}
	function ident(x, y,   nx, ny) {
		nx = x ~ /^[0-9]+$/; ny = y ~ /^[0-9]+$/
		if (nx && ny) return num(x, y)
		if (nx) return -1
		if (ny) return 1
		return x < y ? -1 : x > y ? 1 : 0
	}
	function cmp(a, b,   i, c, pa, pb, ca, cb, na, nb, xa, xb) {
		sub(/[+].*/, "", a); sub(/[+].*/, "", b)
		pa = ""; pb = ""
		i = index(a, "-"); if (i) { pa = substr(a, i + 1); a = substr(a, 1, i - 1) }
		i = index(b, "-"); if (i) { pb = substr(b, i + 1); b = substr(b, 1, i - 1) }
		split(a, ca, "."); split(b, cb, ".")
		for (i = 1; i <= 3; i++) if ((c = num(ca[i], cb[i])) != 0) return c
		if (pa == "" || pb == "") return pa == pb ? 0 : pa == "" ? 1 : -1
		na = split(pa, xa, "."); nb = split(pb, xb, ".")
		for (i = 1; i <= na || i <= nb; i++) {
			if (i > na) return -1
			if (i > nb) return 1
			if ((c = ident(xa[i], xb[i])) != 0) return c
		}
		return 0
	}
	BEGIN {
		if (!valid(a) || !valid(b)) exit 1
		print cmp(a, b)
	}'
}

# An old signed release is still validly signed: a stale mirror, or someone replaying an old
# release with a known hole, must not roll an upgrade back. Checked before anything is written.
refuse_downgrade() {
	[ "$ACTION" = upgrade ] && [ "$ALLOW_DOWNGRADE" = 0 ] && [ -f "$BIN" ] || return 0
	old_line=$(version_line "$BIN") ||
		die "the installed $BIN_RUNTIME did not answer --version within $VERSION_TIMEOUT s, so a downgrade cannot be ruled out; pass --allow-downgrade to replace it anyway"
	old=$(printf '%s\n' "$old_line" | version_of)
	new=$(printf '%s\n' "$NEW_VERSION" | version_of)
	order=$(semver_compare "$old" "$new") ||
		die "cannot compare the installed version \"$old_line\" with \"$NEW_VERSION\" (not semantic versions), so a downgrade cannot be ruled out; pass --allow-downgrade to replace it anyway"
	[ "$order" != 1 ] || die "refusing to downgrade $BIN_RUNTIME from $old to $new (a stale mirror or an old release?); pass --allow-downgrade to do it on purpose"
}

install_binary() {
	BIN_CHANGED=0
	mkdir -p "$(dirname "$BIN")"
	if [ -f "$BIN" ] && ! cmp -s "$WORK/$ASSET" "$BIN" && [ "$ACTION" != upgrade ]; then
		say "keeping the installed $(version_line "$BIN" || echo "executable") at $BIN_RUNTIME; run with --upgrade to replace it with $NEW_VERSION"
		return 0
	fi
	put_file "$WORK/$ASSET" "$BIN" 0755 0:0
	BIN_CHANGED=$CHANGED
	if [ "$CHANGED" = 1 ]; then say "installed $BIN_RUNTIME"; else say "$BIN_RUNTIME is up to date"; fi
}

ensure_user() {
	if [ "$NO_USER" = 1 ]; then
		OWNER="$(id -u):$(id -g)"
		GROUP_ID=$(id -g)
		return 0
	fi
	if ! user_ids >/dev/null; then
		if command -v useradd >/dev/null 2>&1; then
			set -- --system --user-group --home-dir /var/lib/edge-runner --no-create-home --shell /usr/sbin/nologin
			if [ -n "$ROOT" ]; then useradd --prefix "$ROOT" "$@" "$SERVICE_USER"; else useradd "$@" "$SERVICE_USER"; fi ||
				die "cannot create the user \"$SERVICE_USER\" (useradd failed); create it yourself or pass --no-user"
		elif [ -z "$ROOT" ] && command -v adduser >/dev/null 2>&1; then
			adduser -S -D -H -h /var/lib/edge-runner -s /sbin/nologin "$SERVICE_USER" ||
				die "cannot create the user \"$SERVICE_USER\" (adduser failed)"
		else
			die "cannot create the user \"$SERVICE_USER\": no useradd; create it yourself or pass --no-user"
		fi
		say "created the system user \"$SERVICE_USER\""
	fi
	OWNER=$(user_ids) || die "cannot find the user \"$SERVICE_USER\" after creating it"
	GROUP_ID=${OWNER#*:}
}

# "uid:gid" of the service user, read from the target root's passwd (not this host's, with --root).
user_ids() {
	if [ -z "$ROOT" ]; then
		id -u "$SERVICE_USER" >/dev/null 2>&1 || return 1
		printf '%s:%s\n' "$(id -u "$SERVICE_USER")" "$(id -g "$SERVICE_USER")"
	else
		[ -f "$ROOT/etc/passwd" ] || return 1
		awk -F: -v u="$SERVICE_USER" '$1 == u { print $3 ":" $4; found = 1 } END { exit !found }' "$ROOT/etc/passwd"
	fi
}

ensure_dirs() {
	mkdir -p "$CONF_DIR" "$STATE_DIR"
	chown "0:$GROUP_ID" "$CONF_DIR"
	chmod 0750 "$CONF_DIR"
	chown "$OWNER" "$STATE_DIR"
	chmod 0700 "$STATE_DIR"
}

json_line() {
	printf '  "%s": "%s"' "$1" "$2"
}

write_config() {
	if [ -n "$API_KEY_SOURCE" ]; then
		if [ ! -f "$API_KEY_SOURCE" ] || [ ! -r "$API_KEY_SOURCE" ]; then die "cannot read --api-key-file \"$API_KEY_SOURCE\""; fi
		[ -n "$(tr -d ' \r\n\t' <"$API_KEY_SOURCE")" ] || die "refusing --api-key-file \"$API_KEY_SOURCE\": it is empty"
		put_file "$API_KEY_SOURCE" "$CONF_DIR/api-key" 0600 "$OWNER"
		[ "$CHANGED" = 0 ] || say "installed the API key as /etc/edge-runner/api-key (0600)"
	fi
	if [ -f "$CONF_DIR/config.json" ] && [ -z "$RUNNER_ID$CONTROLLER_URL$GROUP$API_KEY_SOURCE" ]; then
		chown "0:$GROUP_ID" "$CONF_DIR/config.json"
		chmod 0640 "$CONF_DIR/config.json"
		return 0
	fi
	{
		echo "{"
		[ -z "$RUNNER_ID" ] || { json_line runnerId "$RUNNER_ID" && echo ","; }
		[ -z "$GROUP" ] || { json_line group "$GROUP" && echo ","; }
		[ -z "$CONTROLLER_URL" ] || { json_line controllerUrl "$CONTROLLER_URL" && echo ","; }
		[ ! -f "$CONF_DIR/api-key" ] || { json_line apiKeyFile /etc/edge-runner/api-key && echo ","; }
		json_line dataDir /var/lib/edge-runner && echo
		echo "}"
	} >"$WORK/config.json"
	if [ -f "$CONF_DIR/config.json" ] && ! cmp -s "$WORK/config.json" "$CONF_DIR/config.json"; then
		backup="$CONF_DIR/config.json.bak-$(date +%Y%m%d%H%M%S)"
		cp -p "$CONF_DIR/config.json" "$backup"
		say "kept the previous config as $backup"
	fi
	put_file "$WORK/config.json" "$CONF_DIR/config.json" 0640 "0:$GROUP_ID"
	[ "$CHANGED" = 0 ] || say "wrote /etc/edge-runner/config.json"
}

# /etc/edge-runner/proxy.env: the service's proxy, read by systemd as root (EnvironmentFile= in
# the unit), so root-only 0600: the URL may hold a password. Both spellings with the same value:
# the runner lets lower case win, curl and wget (in jobs) read lower case only, other tools upper
# case; one value for both means no tool sees a different proxy. Without --proxy an existing file
# stays as it is (an upgrade keeps it); --proxy "" removes it.
write_proxy_env() {
	PROXY_CHANGED=0
	file=$CONF_DIR/proxy.env
	case $PROXY_ACTION in
	keep)
		[ -f "$file" ] || return 0
		chown 0:0 "$file"
		chmod 0600 "$file"
		say "kept /etc/edge-runner/proxy.env, the service's proxy (--proxy \"\" removes it)"
		;;
	remove)
		[ -e "$file" ] || return 0
		rm -f "$file"
		PROXY_CHANGED=1
		say "removed /etc/edge-runner/proxy.env: the service connects directly"
		;;
	write)
		(
			umask 077
			{
				echo "# Written by install.sh --proxy: the proxy of edge-runner.service (EnvironmentFile=)."
				echo "# Root only (0600): the URL may hold a password. Both spellings, the same value."
				for name in HTTPS_PROXY https_proxy HTTP_PROXY http_proxy; do echo "$name=$PROXY_URL"; done
				[ -z "$NO_PROXY_LIST" ] || for name in NO_PROXY no_proxy; do echo "$name=$NO_PROXY_LIST"; done
			} >"$WORK/proxy.env"
		)
		put_file "$WORK/proxy.env" "$file" 0600 0:0
		PROXY_CHANGED=$CHANGED
		if [ "$CHANGED" = 1 ]; then
			say "wrote /etc/edge-runner/proxy.env (root, 0600): the service goes through proxy \"$PROXY_SHOWN\"${NO_PROXY_LIST:+, except for $NO_PROXY_LIST}"
		else
			say "/etc/edge-runner/proxy.env is up to date"
		fi
		;;
	esac
}

ensure_keys() {
	[ "$NO_KEYGEN" = 0 ] || return 0
	if [ -f "$STATE_DIR/keys/runner-key.pem" ]; then
		PUBLIC_KEY_NOTE="the runner public key is /var/lib/edge-runner/keys/runner-key.pub.pem"
		return 0
	fi
	# The service user owns $STATE_DIR, so it may have made keys/ a link to anywhere: refuse links,
	# and run keygen as that user, so that even a link made after this check points root nowhere.
	for path in "$STATE_DIR/keys" "$STATE_DIR/keys/runner-key.pem" "$STATE_DIR/keys/runner-key.pub.pem"; do
		[ ! -L "$path" ] || die "refusing to create the runner key pair: \"${path#"$ROOT"}\" is a symbolic link; remove it"
	done
	if [ -e "$STATE_DIR/keys" ] && [ ! -d "$STATE_DIR/keys" ]; then die "refusing to create the runner key pair: \"/var/lib/edge-runner/keys\" is not a directory"; fi
	as_service_user env HOME="$STATE_DIR" "$BIN" keygen --out-dir "$STATE_DIR/keys" >"$WORK/runner-key.pub.pem" 2>"$WORK/keygen.log" ||
		die "cannot create the runner key pair as \"$SERVICE_USER\": $(cat "$WORK/keygen.log")"
	say "created the runner key pair in /var/lib/edge-runner/keys; register this public key with the controller:"
	cat "$WORK/runner-key.pub.pem"
	PUBLIC_KEY_NOTE=""
}

# Runs "$@" as the service user (as the caller with --no-user), ids from the target's passwd.
as_service_user() {
	if [ "$NO_USER" = 1 ]; then
		"$@"
	elif command -v setpriv >/dev/null 2>&1; then
		setpriv --reuid="${OWNER%%:*}" --regid="$GROUP_ID" --clear-groups -- "$@"
	elif [ -z "$ROOT" ] && command -v runuser >/dev/null 2>&1; then
		runuser -u "$SERVICE_USER" -- "$@"
	else
		die "setpriv (util-linux) is needed to create the runner key pair as \"$SERVICE_USER\"; install it, or pass --no-keygen and run \"edge-runner keygen\" as that user"
	fi
}

configured() {
	grep -q '"runnerId"' "$CONF_DIR/config.json" 2>/dev/null && [ -f "$CONF_DIR/api-key" ]
}

install_unit() {
	UNIT_CHANGED=0
	[ "$NO_SYSTEMD" = 0 ] || return 0
	mkdir -p "$(dirname "$UNIT")" "$(dirname "$WANTS_LINK")"
	sed -e "s#/usr/local/bin/edge-runner#$BIN_RUNTIME#g" \
		-e "s#^User=edge-runner\$#User=$SERVICE_USER#" -e "s#^Group=edge-runner\$#Group=$SERVICE_USER#" \
		"$WORK/edge-runner.service" >"$WORK/edge-runner.service.final"
	put_file "$WORK/edge-runner.service.final" "$UNIT" 0644 0:0
	UNIT_CHANGED=$CHANGED
	[ "$CHANGED" = 0 ] || say "installed the systemd unit /etc/systemd/system/edge-runner.service"
	if systemd_running; then
		[ "$UNIT_CHANGED" = 0 ] || systemctl daemon-reload
		systemctl is-enabled --quiet edge-runner.service 2>/dev/null || systemctl enable --quiet edge-runner.service
		if [ "$NO_START" = 1 ]; then
			say "enabled edge-runner.service (not started: --no-start)"
		elif ! configured; then
			say "enabled edge-runner.service; it starts once --runner-id and --api-key-file are set (run this installer again with them)"
		elif [ "$BIN_CHANGED$UNIT_CHANGED$PROXY_CHANGED" != 000 ] && systemctl is-active --quiet edge-runner.service; then
			say "restarting edge-runner.service (running jobs drain first)"
			systemctl restart edge-runner.service
		else
			systemctl start edge-runner.service
			say "edge-runner.service is running: journalctl -u edge-runner -f"
		fi
	else
		# What `systemctl enable` does for WantedBy=multi-user.target, for a root without systemd.
		[ -L "$WANTS_LINK" ] || ln -s /etc/systemd/system/edge-runner.service "$WANTS_LINK"
		if [ -z "$ROOT" ]; then
			say "systemd is not running here: the unit is installed and enabled for the next boot."
			say "to run the runner now: runuser -u $SERVICE_USER -- $BIN_RUNTIME run --config-file /etc/edge-runner/config.json"
			[ ! -f "$CONF_DIR/proxy.env" ] || say "behind the proxy, first: set -a; . /etc/edge-runner/proxy.env; set +a"
		fi
	fi
}

do_install() {
	detect_asset
	need_tools
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/edge-runner-install.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	trap 'exit 130' INT TERM
	download_proxy
	download_release
	refuse_downgrade
	[ "$ACTION" != upgrade ] || [ -f "$BIN" ] || say "nothing installed yet at $BIN_RUNTIME: installing"
	install_binary
	ensure_user
	ensure_dirs
	write_config
	write_proxy_env
	PUBLIC_KEY_NOTE=""
	ensure_keys
	install_unit
	say "done."
	[ -z "$PUBLIC_KEY_NOTE" ] || say "$PUBLIC_KEY_NOTE"
	say "check the setup with: runuser -u $SERVICE_USER -- $BIN_RUNTIME doctor --config-file /etc/edge-runner/config.json"
}

do_uninstall() {
	if systemd_running && [ -f "$UNIT" ]; then
		systemctl disable --now --quiet edge-runner.service || warn "could not stop edge-runner.service"
	fi
	rm -f "$WANTS_LINK" "$UNIT"
	if systemd_running; then systemctl daemon-reload; fi
	rm -f "$BIN" "$BIN.previous"
	say "removed $BIN_RUNTIME and the systemd unit"
	if [ "$ACTION" != purge ]; then
		say "kept /etc/edge-runner (config, API key) and /var/lib/edge-runner (state, keys); --purge removes them"
		return 0
	fi
	rm -rf "$CONF_DIR" "$STATE_DIR"
	say "removed /etc/edge-runner and /var/lib/edge-runner"
	if [ "$NO_USER" = 1 ] || ! user_ids >/dev/null; then return 0; fi
	if [ -n "$ROOT" ]; then userdel --prefix "$ROOT" "$SERVICE_USER"; else userdel "$SERVICE_USER"; fi ||
		die "cannot remove the user \"$SERVICE_USER\" (userdel failed)"
	if [ -n "$ROOT" ] && grep -q "^$SERVICE_USER:" "$ROOT/etc/group" 2>/dev/null; then groupdel --prefix "$ROOT" "$SERVICE_USER" || true; fi
	say "removed the user \"$SERVICE_USER\""
}

main() {
	parse_args "$@"
	[ "$(id -u)" = 0 ] || die "run me as root, e.g. curl -fsSL <url>/install.sh | sudo sh -s -- [options]"
	umask 022
	case $ACTION in
	uninstall | purge) do_uninstall ;;
	*) do_install ;;
	esac
}

main "$@"
