#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every parser of outside input, on the
# stable toolchain (RUSTC_BOOTSTRAP=1 lets it use the sanitizer flags; no other toolchain).
#
#   bash tests/fuzz/run.sh                    # 20 s a target: the test suite's short run
#   SECONDS_PER_TARGET=600 bash tests/fuzz/run.sh
#   RUNS=1000000 bash tests/fuzz/run.sh       # the long run: a million executions a target
#   bash tests/fuzz/run.sh file_name          # some targets only
#   SANITIZER=none bash tests/fuzz/run.sh     # without AddressSanitizer (the default: address)
#
# Targets: email_message (the MIME reader), intake_http (multipart and JSON bodies through the
# intake router over the embedded store: never a 500), file_name (sanitizing), smtp_dialogue
# (any client bytes through the local SMTP conversation: only well-formed replies), signed_note
# (checkpoints, verifier keys, receipts' signatures, entry bundles: what `verbatim verify`
# reads), text_extract (the HTML, RTF, DOCX, XLSX, PPTX and OpenDocument readers: the first byte
# picks the type) and pdf_text (the PDF reader in its child process, as publication runs it). Seeds come from the repo's real corpora (tests/mail) and a few bodies written here;
# what libFuzzer learns stays in tests/fuzz/corpus (ignored by git). A crash leaves its input
# in tests/fuzz/artifacts/<target>/ and exits non-zero. Prints executions per target.
set -euo pipefail

FUZZ=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$FUZZ/../.." && pwd)
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-20}
RUNS=${RUNS:-}
# AddressSanitizer finds memory errors in unsafe code (ours and our dependencies'); a panic, the
# usual failure of safe Rust, is caught without it. tests/run's short run goes without it: the
# instrumented build is 29% faster (258 vs 362 s from clean on a 2-core machine) and each
# execution cheaper; the long run keeps it.
SANITIZER=${SANITIZER:-address}
CARGO_FUZZ_VERSION=0.13.2
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(email_message intake_http file_name smtp_dialogue signed_note text_extract pdf_text)

export RUSTC_BOOTSTRAP=1
export PATH="$ROOT/.tools/bin:$PATH"
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools" >&2
    cargo install --quiet --locked --root "$ROOT/.tools" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi

# Seeds: real messages for the MIME reader; a form, a JSON body and broken variants for intake.
seed() { mkdir -p "$FUZZ/corpus/$1"; printf '%b' "$3" >"$FUZZ/corpus/$1/$2"; }
mkdir -p "$FUZZ/corpus/email_message"
cp "$ROOT"/tests/mail/*.eml "$FUZZ/corpus/email_message/"
B='--fuzz-boundary'
seed intake_http form '\x00'"$B"'\r\nContent-Disposition: form-data; name="name"\r\n\r\nAda\r\n'"$B"'\r\nContent-Disposition: form-data; name="text"\r\n\r\nOur view.\r\n'"$B"'\r\nContent-Disposition: form-data; name="file"; filename="r.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n%%EOF\r\n'"$B"'--\r\n'
seed intake_http json '\x01{"name":"Ada","text":"Our view.","category":"academia","country":"CH"}'
seed intake_http json-uploads '\x01{"name":"Ada","uploads":["1800000000-0123456789abcdef0123456789abcdef"]}'
seed file_name plain 'Report 2027.pdf'
seed file_name path '../../etc/passwd'
seed file_name windows 'C:\\Users\\ada\\CON.txt'
seed smtp_dialogue delivery 'EHLO fuzz.example\r\nMAIL FROM:<ada@example.org>\r\nRCPT TO:<fuzz@fuzz.example>\r\nRCPT TO:<nobody@fuzz.example>\r\nDATA\r\nFrom: Ada <ada@example.org>\r\nSubject: View\r\n\r\nOur view.\r\n..dotted\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n'
seed smtp_dialogue subscribe 'HELO x\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<fuzz+subscribe@fuzz.example>\r\nDATA\r\nFrom: b@example.org\r\n\r\nsubscribe\r\n.\r\n'
# The extractors' seeds: the first byte picks the type (see text_extract.rs), then real files.
with_type() { mkdir -p "$FUZZ/corpus/text_extract"; { printf '%b' "$2"; cat "$3"; } >"$FUZZ/corpus/text_extract/$1"; }
with_type docx '\x03' "$ROOT/tests/browser/fixtures/search.docx"
with_type odt '\x06' "$ROOT/tests/browser/fixtures/search.odt"
seed text_extract html '\x01<!doctype html><title>T</title><p>Our <b>view</b>&amp; more<script>x()</script>'
seed text_extract rtf '\x02{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 Our \\b view\\b0 \\u233?t\\par}'
mkdir -p "$FUZZ/corpus/pdf_text"
cp "$ROOT/tests/browser/fixtures/search.pdf" "$FUZZ/corpus/pdf_text/search.pdf"
seed signed_note checkpoint 'verbatim.fuzz/consultation\n3\nq3nG0vvQmHj0mPfDEDh+Nt8oI0Gyz5grnCjcw6m2VHk=\n\n— verbatim.fuzz AAAAAA==\n'
seed signed_note witness-request 'old 0\n\nverbatim.fuzz/consultation\n3\nq3nG0vvQmHj0mPfDEDh+Nt8oI0Gyz5grnCjcw6m2VHk=\n\n— verbatim.fuzz AAAAAA==\n'
seed signed_note policy 'log verbatim.fuzz+00000000+AQ==\nwitness A witness.fuzz+00000000+BA== https://a.example\ngroup g any A\nquorum g\n'
seed signed_note proof 'c2sp.org/tlog-proof@v1\nextra e30=\nindex 0\n\nverbatim.fuzz/consultation\n1\nq3nG0vvQmHj0mPfDEDh+Nt8oI0Gyz5grnCjcw6m2VHk=\n\n— verbatim.fuzz AAAAAA==\n'

status=0
summary=()
for target in "${TARGETS[@]}"; do
    limit=(-max_total_time="$SECONDS_PER_TARGET")
    [ -z "$RUNS" ] || limit=(-runs="$RUNS")
    mkdir -p "$FUZZ/artifacts/$target"
    log="$FUZZ/artifacts/$target.log"
    what="${SECONDS_PER_TARGET} s"
    [ -z "$RUNS" ] || what="$RUNS runs"
    echo "fuzz: $target ($what)" >&2
    if (cd "$FUZZ" && nice cargo fuzz run --sanitizer "$SANITIZER" --fuzz-dir "$FUZZ" "$target" "$FUZZ/corpus/$target" -- \
        "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$FUZZ/artifacts/$target/") >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        tail -n 40 "$log" >&2
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    summary+=("$target: $result, ${runs:-?} executions")
done
printf 'fuzz: %s\n' "${summary[@]}"
exit $status
