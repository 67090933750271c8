#!/usr/bin/env bash
# The README's Setup, as a newcomer follows it, against the packages this commit packs:
#   1. `dotnet pack` the three packages into a temporary folder;
#   2. `dotnet new console` in a temporary folder whose nuget.config adds that folder as a package source (beside the
#      machine's own sources);
#   3. run the `dotnet add package` lines of README.md's Setup section, as written there;
#   4. put the Setup section's C# blocks into the app: blocks that declare types as files of their own, the other
#      blocks as the statements of Program.cs, after a stale edit is prepared on SQLite;
#   5. build and run it: the README's catch must print the RecordModifiedException, and the row must keep the other
#      writer's change; the PostgreSQL context of the Setup (UseRowLocks(), Concurrency.EntityFrameworkCore.PostgreSQL)
#      is compiled with the app against the packed package, not run (the check has no PostgreSQL server).
# Everything is read from README.md, so the docs and this check cannot drift apart. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
feed=$work/feed
app=$work/app

fail() {
  echo "consumer check: $*" >&2
  exit 1
}

# The Setup section of README.md: from "## Setup" to the next heading.
setup=$(awk '/^## Setup$/ { on = 1; next } on && /^#/ { exit } on' "$repo/README.md")
[ -n "$setup" ] || fail "README.md has no '## Setup' section"

packages=(Concurrency.EntityFrameworkCore Concurrency.EntityFrameworkCore.PostgreSQL Concurrency.AspNetCore)
echo "== [${SECONDS}s] Packing ${packages[*]} into $feed"
for package in "${packages[@]}"; do
  project=src/$package
  dotnet pack "$project" -c Release -o "$feed" -v quiet >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; fail "dotnet pack $project failed"; }
done
ls "$feed"

# A package store of its own, so that packages of the same version packed by an earlier run (NuGet never extracts a
# version twice) cannot stand in for these. The machine's package store is a source too (read-only), so what was
# restored before is not downloaded again.
export NUGET_PACKAGES=$work/packages
machine_store=$(env -u NUGET_PACKAGES dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')
# The sources the machine already has (nuget.config keys), to map every package but ours to them.
mapfile -t sources < <(cd "$work" && dotnet nuget list source | sed -n 's/^ *[0-9]*\. *\(.*\) \[Enabled\]$/\1/p')
[ "${#sources[@]}" -gt 0 ] || fail "no enabled NuGet source"

mkdir -p "$app"
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo '  <packageSources>'
  echo "    <add key=\"concurrency-packed\" value=\"$feed\" />"
  [ -d "$machine_store" ] && echo "    <add key=\"machine-store\" value=\"$machine_store\" />"
  echo '  </packageSources>'
  echo '  <packageSourceMapping>'
  echo '    <packageSource key="concurrency-packed">'
  for package in "${packages[@]}"; do
    echo "      <package pattern=\"$package\" />"
  done
  echo '    </packageSource>'
  for key in "${sources[@]}"; do
    echo "    <packageSource key=\"$key\"><package pattern=\"*\" /></packageSource>"
  done
  [ -d "$machine_store" ] && echo '    <packageSource key="machine-store"><package pattern="*" /></packageSource>'
  echo '  </packageSourceMapping>'
  echo '</configuration>'
} >"$app/nuget.config"

echo "== [${SECONDS}s] dotnet new console (net10.0) in $app"
(cd "$app" && dotnet new console --framework net10.0 --name Consumer --output . --no-update-check >/dev/null)

echo "== [${SECONDS}s] The README's dotnet add package lines"
mapfile -t adds < <(printf '%s\n' "$setup" | grep -E '^dotnet add package ')
[ "${#adds[@]}" -ge 2 ] || fail "README.md's Setup names fewer than two 'dotnet add package' lines"
for line in "${adds[@]}"; do
  echo "\$ $line"
  (cd "$app" && bash -c "$line" >"$work/add.log" 2>&1) || { cat "$work/add.log" >&2; fail "'$line' failed"; }
done
for package in "${packages[@]}"; do
  id=${package,,}
  source=$(sed -n 's/.*"source": *"\([^"]*\)".*/\1/p' "$NUGET_PACKAGES/$id"/*/.nupkg.metadata 2>/dev/null || true)
  case "$source" in
    "$feed"*) ;;
    *) fail "$id was not restored from the packed packages (source: '${source:-none}')" ;;
  esac
done

echo "== [${SECONDS}s] The README's Setup C# blocks"
# Each fenced csharp block of the section, as a file of its own (block1.cs, block2.cs, ...).
printf '%s\n' "$setup" | awk -v dir="$work" '
  /^```csharp$/ { n++; on = 1; next }
  /^```$/ { on = 0; next }
  on { print > (dir "/block" n ".cs") }'
statements=""
usings=""
for block in "$work"/block*.cs; do
  if grep -qE '^(public |internal )?(sealed |abstract |static )*(class|record|interface|struct|enum) ' "$block"; then
    cp "$block" "$app/$(basename "$block")"          # the model: a file of the app
    usings+=$(grep -oE '^using [A-Za-z.]+;' "$block" || true)$'\n'  # its usings serve the statements too
  else
    statements+=$(cat "$block")$'\n'                  # code: the statements of Program.cs
  fi
done
[ -n "$statements" ] || fail "README.md's Setup has no C# block of statements"
usings=$(printf '%s' "$usings" | sort -u)
grep -q 'UseRowLocks()' "$app"/block*.cs || fail "README.md's Setup shows no context with UseRowLocks() (Concurrency.EntityFrameworkCore.PostgreSQL)"

cat >"$app/Program.cs" <<EOF
// Written by .ci/consumer-check.sh: a stale edit on SQLite, then the statements of README.md's Setup.
$usings
File.Delete("blog.db");
await using (var setup = new BlogContext())
{
    await setup.Database.EnsureCreatedAsync();
    setup.Articles.Add(new Article { Title = "first" });
    await setup.SaveChangesAsync();
}

await using var context = new BlogContext();
var mine = await context.Articles.SingleAsync();
await using (var other = new BlogContext())
{
    var theirs = await other.Articles.SingleAsync();
    theirs.Title = "theirs";
    await other.SaveChangesAsync();
}

mine.Title = "mine";

// README.md, Setup:
$statements
await using (var check = new BlogContext())
{
    var row = await check.Articles.SingleAsync();
    Console.WriteLine(\$"row: Title={row.Title}, Version={row.Version}");
}
EOF

echo "== [${SECONDS}s] dotnet run"
(cd "$app" && dotnet run >"$work/run.log" 2>&1) || { cat "$work/run.log" >&2; fail "the consumer app failed"; }
cat "$work/run.log"
grep -q "was modified by someone else" "$work/run.log" || fail "the stale save was not refused with a RecordModifiedException"
grep -qx "row: Title=theirs, Version=2" "$work/run.log" || fail "the row does not hold the other writer's change at version 2"
echo "consumer check passed: README.md's Setup works against the packed packages"
