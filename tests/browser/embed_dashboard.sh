#!/usr/bin/env bash
# Regenerates collector/dashboard_html.inc (the dashboard page as C string
# literals, #included by collector/dashboard.c) from collector/dashboard.html.
# With --check, only reports whether the .inc is up to date (exit 1 if not).
set -euo pipefail
cd "$(dirname "$0")/../.."
gen() {
	echo "/* Generated from collector/dashboard.html by tests/browser/embed_dashboard.sh; do not edit. */"
	# Escape backslashes and quotes, and '?' so that no "??x" trigraph forms.
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$/\\n"/' collector/dashboard.html
}
if [ "${1:-}" = --check ]; then
	gen | cmp -s - collector/dashboard_html.inc
else
	gen >collector/dashboard_html.inc
fi
