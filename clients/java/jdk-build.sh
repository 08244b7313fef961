#!/usr/bin/env bash
# Builds and tests the Java client with the JDK alone (javac and java; no Maven or Gradle
# download): `classes` compiles the library and the examples into .build/main, `test` also
# compiles src/test/java and runs every test class with the project's own runner (closing line
# "N passed, N failed"), `bench` prints the offline verification figures of make bench.
# Compiles only when a source is newer than the last build. Needs JDK 17 or later.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/.build"

# compile NAME CLASSPATH DIR...: javac of every .java under the DIRs into $build/NAME, when stale.
compile() {
  local name="$1" cp="$2" out="$build/$1" stamp="$build/$1.stamp"
  shift 2
  if [ -f "$stamp" ] && [ -z "$(find "$@" -name '*.java' -newer "$stamp" -print -quit)" ]; then
    return 0
  fi
  rm -rf "$out"
  mkdir -p "$out"
  # The sources in an argument file, each quoted (a checkout's path may hold spaces).
  find "$@" -name '*.java' | sed 's/\\/\\\\/g; s/.*/"&"/' >"$build/$name.sources"
  javac -Xlint:all -Werror --release 17 -encoding UTF-8 ${cp:+-cp "$cp"} -d "$out" "@$build/$name.sources"
  touch "$stamp"
}

classes() {
  compile main "" "$here/src/main/java" "$here/examples"
}

tests() {
  classes
  compile test "$build/main" "$here/src/test/java"
}

case "${1:-test}" in
  classes) classes ;;
  test)
    tests
    # C1 only and the serial collector: a short run starts sooner (about 2 s of 9 here).
    (cd "$here" && java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$build/main:$build/test" dev.keyhook.TestRunner \
      dev.keyhook.HkdfTest dev.keyhook.JsonTest dev.keyhook.FormatTest dev.keyhook.VectorsTest dev.keyhook.ClientTest \
      dev.keyhook.LeaseTest)
    ;;
  bench)
    tests
    (cd "$here" && java -cp "$build/main:$build/test" dev.keyhook.Bench)
    ;;
  *) echo "usage: jdk-build.sh classes|test|bench" >&2; exit 2 ;;
esac
