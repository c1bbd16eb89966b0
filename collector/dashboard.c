/*
 * dashboard: the SOC page served at "/", one self-contained HTML document
 * (inline CSS and JavaScript, no external assets) that reads the JSON API
 * and the alert stream of the same server.
 *
 * The page's source is collector/dashboard.html; dashboard_html.inc holds it
 * as C string literals (tests/browser/embed_dashboard.sh regenerates it, and
 * tests/browser/t_dashboard.sh fails when it is stale), so the binary carries
 * the page and serving it touches no file system.
 */
#include <stddef.h>

#include "http_api.h"
#include "banned.h"

const char dashboard_html[] =
#include "dashboard_html.inc"
	;

const size_t dashboard_html_len = sizeof(dashboard_html) - 1;
