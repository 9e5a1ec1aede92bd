#!/bin/bash
# Every configuration key the parser knows is documented in homeport.conf(5)
# and shown in the sample etc/homeport.conf, and neither documents a key the
# parser does not know. The keys of [daemon], [gateway], [service:NAME] and
# the keys every [ddns:NAME] has are the strcmp(key, "...") of src/config*.c;
# each provider's own keys come from its key table, as the built
# `provtool --keys` prints them. Run from the tree root:
#   tests/config/docs.sh [BUILD]          (default build/)
set -u
build=${1:-build}
provkeys=$("$build/tools/provtool" --keys) || { echo "FAIL cannot run $build/tools/provtool --keys"; exit 1; }
code=$( (cat src/config*.c | grep -o 'strcmp(key, "[a-z0-9_]*")' | sed 's/.*"\(.*\)".*/\1/'
	 awk '{print $2}' <<<"$provkeys") | sort -u)
man=$(grep -oE '^\.It Cm [a-z0-9_]+ No =' man/homeport.conf.5 | awk '{print $3}' | sort -u)
sample=$(sed -nE 's/^;? *([a-z0-9_]+) *=.*/\1/p' etc/homeport.conf | sort -u)
fail=0
report() {   # what, missing-list
	[ -z "$2" ] && return
	echo "FAIL $1: $(echo $2)"
	fail=1
}
report "keys not in homeport.conf(5)" "$(comm -23 <(echo "$code") <(echo "$man"))"
report "keys in homeport.conf(5) the parser does not know" "$(comm -13 <(echo "$code") <(echo "$man"))"
report "keys not in etc/homeport.conf" "$(comm -23 <(echo "$code") <(echo "$sample"))"
report "keys in etc/homeport.conf the parser does not know" "$(comm -13 <(echo "$code") <(echo "$sample"))"
# The built-in web sources (src/ipweb.c) are each named in homeport.conf(5) with
# their operator, and the man page lists no other: users must know whom they ask.
websrc=$(grep -oE '^	\{ "https?://[^"]+", "' src/ipweb.c | cut -d'"' -f2 | sort -u)
webman=$(grep -oE '^\.It Lk https?://[^ ]+ Ta ' man/homeport.conf.5 | awk '{print $3}' | sort -u)
report "built-in web sources not in homeport.conf(5)" "$(comm -23 <(echo "$websrc") <(echo "$webman"))"
report "web sources in homeport.conf(5) that are not built in" "$(comm -13 <(echo "$websrc") <(echo "$webman"))"
# Both READMEs list the same providers in their tables (a Chinese reader must not
# miss one, nor find one that does not exist).
readme_providers() { grep -oE '^\| `[a-z0-9.]+` \|' "$1" | sed 's/^| `\(.*\)` |$/\1/' | sort -u; }
en=$(readme_providers README.md)
zh=$(readme_providers README.zh-CN.md)
[ -n "$en" ] || report "README.md" "has no provider table"
report "providers in README.md, not in README.zh-CN.md" "$(comm -23 <(echo "$en") <(echo "$zh"))"
report "providers in README.zh-CN.md, not in README.md" "$(comm -13 <(echo "$en") <(echo "$zh"))"
# ... and they are the providers src/provider.c knows.
known=$(sed -nE 's/^[[:space:]]*\{ "([a-z0-9.]+)", &provider_.*/\1/p' src/provider.c | sort -u)
[ -n "$known" ] || report "src/provider.c" "no provider rows found"
report "providers src/provider.c knows, not in the READMEs" "$(comm -23 <(echo "$known") <(echo "$en"))"
report "providers in the READMEs src/provider.c does not know" "$(comm -13 <(echo "$known") <(echo "$en"))"
[ $fail = 0 ] && echo "docs: README.md and README.zh-CN.md list the $(echo "$en" | wc -l) providers src/provider.c knows"
[ $fail = 0 ] && echo "docs: all $(echo "$code" | wc -l) keys in the parser, the man page and the sample;" \
	"all $(echo "$websrc" | wc -l) built-in web sources in the man page"
exit $fail
