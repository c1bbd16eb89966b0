/*
 * summary: the --summary JSON document (see summary.h).
 */
#include <jansson.h>

#include "summary.h"
#include "banned.h"

static json_t *counter(const struct agg_counter *c)
{
	return json_pack("{sIsI}", "packets", (json_int_t)c->packets, "bytes", (json_int_t)c->bytes);
}

static json_t *destinations(const struct report_identity *id)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < id->ndests; i++) {
		const struct report_dest *d = &id->dests[i];
		char addr[ADDR_STRLEN];
		const char *pname = report_proto_name(d->proto);
		json_t *o = json_pack("{sssIsIsi}", "addr", addr_format(&d->addr, addr, sizeof(addr)),
				      "bytes", (json_int_t)d->bytes, "packets", (json_int_t)d->packets,
				      "port", (int)d->port);
		if (!o)
			continue;
		json_object_set_new(o, "proto", pname ? json_string(pname) : json_integer(d->proto));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *identity(const struct report_identity *id)
{
	return json_pack("{sssIsIsIsIsIsIsIso}", "identity", id->name,
			 "out_packets", (json_int_t)id->out_packets, "out_bytes", (json_int_t)id->out_bytes,
			 "in_packets", (json_int_t)id->in_packets, "in_bytes", (json_int_t)id->in_bytes,
			 "lateral_packets", (json_int_t)id->lateral_packets,
			 "lateral_bytes", (json_int_t)id->lateral_bytes, "flows", (json_int_t)id->flows,
			 "top_destinations", destinations(id));
}

json_t *summary_json(const struct summary_input *in)
{
	const struct pipeline_stats *st = in->stats;
	json_t *reasons = json_object();
	for (int r = DECODE_OK + 1; reasons && r < DECODE_NREASONS; r++)
		if (st->undecoded[r])
			json_object_set_new(reasons, decode_reason_name(r), json_integer((json_int_t)st->undecoded[r]));
	json_t *ids = json_array();
	for (size_t i = 0; ids && i < in->report->nids; i++)
		json_array_append_new(ids, identity(&in->report->ids[i]));
	json_t *o = json_pack("{sssisIsIsososososo}", "source", in->source, "link_type", in->link_type,
			      "packets_seen", (json_int_t)st->packets_seen,
			      "packets_undecoded", (json_int_t)st->packets_undecoded,
			      "undecoded_reasons", reasons, "egress", counter(&in->totals.egress),
			      "ingress", counter(&in->totals.ingress), "lateral", counter(&in->totals.lateral),
			      "transit", counter(&in->totals.transit));
	if (!o) {
		json_decref(ids);
		return NULL;
	}
	json_object_set_new(o, "start", json_real(st->first_ts));
	json_object_set_new(o, "end", json_real(st->last_ts));
	json_object_set_new(o, "overflow",
			    json_pack("{sIsIsI}", "identity_packets", (json_int_t)in->totals.identity_overflow,
				      "pair_packets", (json_int_t)in->totals.pair_overflow,
				      "flow_packets", (json_int_t)in->totals.flow_overflow));
	json_object_set_new(o, "memory_bytes", json_integer((json_int_t)in->agg_memory));
	if (in->read_error)
		json_object_set_new(o, "read_error", json_string(in->read_error));
	json_object_set_new(o, "identities", ids);
	return o;
}
