#!/usr/bin/env bash
# Prints the home of a JDK >= 25 (kvx is built and tested with 25; the Maven build enforces it).
# Order: $KVX_JAVA_HOME, $JAVA_HOME, then every /usr/lib/jvm/* (newest first). Exits 1 with advice if none.
set -euo pipefail
need=25
version_of() { # prints the feature version of the JDK at $1, or nothing
  local home=$1
  [[ -x "$home/bin/javac" && -x "$home/bin/java" ]] || return 0
  "$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1
}
candidates=()
[[ -n "${KVX_JAVA_HOME:-}" ]] && candidates+=("$KVX_JAVA_HOME")
[[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
if [[ -d /usr/lib/jvm ]]; then
  while IFS= read -r d; do candidates+=("$d"); done < <(ls -d /usr/lib/jvm/*/ 2>/dev/null | sed 's:/$::' | sort -rV)
fi
for home in "${candidates[@]}"; do
  v=$(version_of "$home")
  if [[ -n "$v" && "$v" =~ ^[0-9]+$ && "$v" -ge $need ]]; then echo "$home"; exit 0; fi
done
{
  echo "kvx: no JDK >= $need found (looked at \$KVX_JAVA_HOME, \$JAVA_HOME and /usr/lib/jvm/*)."
  echo "kvx: install one, e.g. 'apt-get install temurin-25-jdk' (Adoptium repository) or 'apt-get install openjdk-25-jdk',"
  echo "kvx: or point KVX_JAVA_HOME at an unpacked JDK 25."
} >&2
exit 1
