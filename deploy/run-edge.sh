#!/usr/bin/env bash
# Render the edge config for a given topology into a prefix dir and run nginx in the foreground.
#
#   deploy/run-edge.sh --listen 127.0.0.1:8080 --upstream 127.0.0.1:3001 --upstream 127.0.0.1:3002
#
# Options:
#   --listen ADDR:PORT|PORT   what nginx listens on (default: as in aperture.conf, 8080)
#   --upstream HOST:PORT      an Aperture instance; repeat for each (default: as in aperture.conf)
#   --prefix DIR              nginx prefix: rendered config, pid, temp files (default: new temp dir)
#   --cache-dir DIR           where the cache lives (default: <prefix>/aperture-cache)
#   --workers N               worker_processes (default: auto)
#   --access-log PATH|off     access log (default /dev/stdout, which cannot be opened when stdout
#                             is a socket, as with some process supervisors and Node's spawn)
#   --render-only             render, print the prefix dir and exit
#
# Runs as root or not: with root, nginx workers drop to "nobody", so the prefix is made
# traversable for them; nginx creates and chowns its temp and cache dirs itself.
# `exec` makes nginx this process, so signals from a supervisor (or a test) reach it directly:
# TERM = fast stop, QUIT = graceful, HUP = reload the rendered config.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
listen="" prefix="" cache_dir="" workers="" access_log="" render_only=0
upstreams=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --listen) listen="$2"; shift 2 ;;
    --upstream) upstreams+=("$2"); shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --cache-dir) cache_dir="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --access-log) access_log="$2"; shift 2 ;;
    --render-only) render_only=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run-edge.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

nginx_bin="$(command -v nginx || true)"
# Debian puts nginx in /usr/sbin, which is not on a non-root user's PATH.
[[ -z "$nginx_bin" && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
if [[ -z "$nginx_bin" && $render_only -eq 0 ]]; then
  echo "run-edge.sh: nginx not found (apt-get install nginx)" >&2
  exit 127
fi

if [[ -z "$prefix" ]]; then
  prefix="$(mktemp -d "${TMPDIR:-/tmp}/aperture-edge.XXXXXX")"
fi
mkdir -p "$prefix"
[[ "$(id -u)" -eq 0 ]] && chmod 0755 "$prefix"

ups=""
for u in "${upstreams[@]+"${upstreams[@]}"}"; do
  ups+="    server ${u} max_fails=2 fail_timeout=5s;  # @upstream"$'\n'
done

UPS="$ups" LISTEN="$listen" CACHE="$cache_dir" ACCESS="$access_log" awk '
  /# @listen$/   { if (ENVIRON["LISTEN"] != "") sub(/listen [^;]*;/, "listen " ENVIRON["LISTEN"] ";"); print; next }
  /# @upstream$/ { if (ENVIRON["UPS"] == "") { print; next } if (!done) { printf "%s", ENVIRON["UPS"]; done = 1 } next }
  /# @access_log$/ {
    if (ENVIRON["ACCESS"] == "off") sub(/access_log [^;]*;/, "access_log off;")
    else if (ENVIRON["ACCESS"] != "") sub(/access_log [^ ;]+/, "access_log " ENVIRON["ACCESS"])
    print; next
  }
  /# @cache$/    { if (ENVIRON["CACHE"] != "") sub(/proxy_cache_path [^ ]+/, "proxy_cache_path " ENVIRON["CACHE"]); print; next }
  { print }
' "$here/nginx/aperture.conf" > "$prefix/aperture.conf"

if [[ -n "$workers" ]]; then
  sed "s/^worker_processes .*;/worker_processes ${workers};/" "$here/nginx/nginx.conf" > "$prefix/nginx.conf"
else
  cp "$here/nginx/nginx.conf" "$prefix/nginx.conf"
fi

if [[ $render_only -eq 1 ]]; then
  echo "$prefix"
  exit 0
fi

exec "$nginx_bin" -p "$prefix/" -c "$prefix/nginx.conf" -e stderr -g 'daemon off;'
