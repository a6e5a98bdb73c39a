/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "ioloop.h"
#include "discover/as-autodiscover.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

/* deeper than any request: Autodiscover/Request/EMailAddress */
#define AUTODISCOVER_MAX_DEPTH 8

static const struct {
	const char *name;
	enum as_autodiscover_schema schema;
} autodiscover_schemas[] = {
	{ AS_AUTODISCOVER_NS_MOBILESYNC, AS_AUTODISCOVER_SCHEMA_MOBILESYNC },
	{ AS_AUTODISCOVER_NS_OUTLOOK, AS_AUTODISCOVER_SCHEMA_OUTLOOK },
};

/* ---- request ---- */

/* "<!" may start a comment or CDATA; anything else (DOCTYPE, ENTITY) is
   refused: a request never needs one, and it is how entity expansion
   and external loads get in. */
static bool autodiscover_has_declaration(const unsigned char *data,
					 size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i++) {
		if (data[i] != '<' || data[i + 1] != '!')
			continue;
		if (size - i >= 4 && memcmp(data + i, "<!--", 4) == 0)
			continue;
		if (size - i >= 9 && memcmp(data + i, "<![CDATA[", 9) == 0)
			continue;
		return TRUE;
	}
	return FALSE;
}

static bool autodiscover_name_is(const xmlNode *node, const char *name)
{
	return node->type == XML_ELEMENT_NODE &&
		strcmp((const char *)node->name, name) == 0;
}

static const xmlNode *autodiscover_child(const xmlNode *node, const char *name)
{
	const xmlNode *child;

	for (child = node->children; child != NULL; child = child->next) {
		if (autodiscover_name_is(child, name))
			return child;
	}
	return NULL;
}

static bool autodiscover_depth_ok(const xmlNode *node, unsigned int depth)
{
	const xmlNode *child;

	if (depth > AUTODISCOVER_MAX_DEPTH)
		return FALSE;
	for (child = node->children; child != NULL; child = child->next) {
		if (child->type == XML_ELEMENT_NODE &&
		    !autodiscover_depth_ok(child, depth + 1))
			return FALSE;
	}
	return TRUE;
}

/* The element's text, trimmed, from the data stack; NULL if absent */
static const char *autodiscover_text(const xmlNode *parent, const char *name)
{
	const xmlNode *node = autodiscover_child(parent, name);
	xmlChar *content;
	const char *text;

	if (node == NULL)
		return NULL;
	content = xmlNodeGetContent(node);
	if (content == NULL)
		return "";
	text = t_str_trim((const char *)content, " \t\r\n");
	xmlFree(content);
	return text;
}

static int
autodiscover_parse_doc(xmlDoc *doc, struct as_autodiscover_request *req_r,
		       const char **error_r)
{
	const xmlNode *root, *request;
	unsigned int i;

	root = xmlDocGetRootElement(doc);
	if (root == NULL || !autodiscover_name_is(root, "Autodiscover")) {
		*error_r = "the root element is not Autodiscover";
		return -1;
	}
	if (!autodiscover_depth_ok(root, 1)) {
		*error_r = "elements nested too deep";
		return -1;
	}
	request = autodiscover_child(root, "Request");
	if (request == NULL) {
		*error_r = "no Request element";
		return -1;
	}
	req_r->email = autodiscover_text(request, "EMailAddress");
	req_r->schema_name = autodiscover_text(request,
					       "AcceptableResponseSchema");
	if (req_r->email == NULL || *req_r->email == '\0') {
		*error_r = "no EMailAddress";
		return -1;
	}
	if (req_r->schema_name == NULL || *req_r->schema_name == '\0') {
		*error_r = "no AcceptableResponseSchema";
		return -1;
	}
	req_r->schema = AS_AUTODISCOVER_SCHEMA_UNKNOWN;
	for (i = 0; i < N_ELEMENTS(autodiscover_schemas); i++) {
		if (strcasecmp(req_r->schema_name,
			       autodiscover_schemas[i].name) == 0)
			req_r->schema = autodiscover_schemas[i].schema;
	}
	return 0;
}

int as_autodiscover_parse(const void *data, size_t size,
			  struct as_autodiscover_request *req_r,
			  const char **error_r)
{
	xmlDoc *doc;
	int ret;

	i_zero(req_r);
	if (size == 0) {
		*error_r = "empty request";
		return -1;
	}
	if (size > AS_AUTODISCOVER_MAX_REQUEST_SIZE) {
		*error_r = t_strdup_printf("request of %zu bytes (max %d)",
			size, AS_AUTODISCOVER_MAX_REQUEST_SIZE);
		return -1;
	}
	if (autodiscover_has_declaration(data, size)) {
		*error_r = "DOCTYPE or other declarations are not accepted";
		return -1;
	}
	/* no network, no entity substitution, no DTD loading, silent */
	doc = xmlReadMemory(data, (int)size, NULL, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
			    XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (doc == NULL) {
		const xmlError *err = xmlGetLastError();

		*error_r = t_strdup_printf("not well-formed XML%s%s",
			err != NULL && err->message != NULL ? ": " : "",
			err != NULL && err->message != NULL ?
			t_str_trim(err->message, "\n") : "");
		xmlResetLastError();
		return -1;
	}
	ret = autodiscover_parse_doc(doc, req_r, error_r);
	xmlFreeDoc(doc);
	return ret;
}

/* ---- responses ---- */

struct autodiscover_writer {
	xmlBuffer *buf;
	xmlTextWriter *w;
};

static void
autodiscover_writer_init(struct autodiscover_writer *aw, const char *ns)
{
	aw->buf = xmlBufferCreate();
	if (aw->buf == NULL)
		i_fatal_status(FATAL_OUTOFMEM, "xmlBufferCreate() failed");
	aw->w = xmlNewTextWriterMemory(aw->buf, 0);
	if (aw->w == NULL)
		i_fatal_status(FATAL_OUTOFMEM, "xmlNewTextWriterMemory() failed");
	(void)xmlTextWriterSetIndent(aw->w, 1);
	(void)xmlTextWriterStartDocument(aw->w, NULL, "utf-8", NULL);
	(void)xmlTextWriterStartElement(aw->w, BAD_CAST "Autodiscover");
	(void)xmlTextWriterWriteAttribute(aw->w, BAD_CAST "xmlns",
					  BAD_CAST AS_AUTODISCOVER_NS_RESPONSE);
	(void)xmlTextWriterStartElement(aw->w, BAD_CAST "Response");
	if (ns != NULL) {
		(void)xmlTextWriterWriteAttribute(aw->w, BAD_CAST "xmlns",
						  BAD_CAST ns);
	}
}

static void
autodiscover_writer_finish(struct autodiscover_writer *aw, string_t *dest)
{
	(void)xmlTextWriterEndDocument(aw->w);
	xmlFreeTextWriter(aw->w);
	str_append_data(dest, xmlBufferContent(aw->buf),
			xmlBufferLength(aw->buf));
	xmlBufferFree(aw->buf);
}

static void autodiscover_start(struct autodiscover_writer *aw, const char *name)
{
	(void)xmlTextWriterStartElement(aw->w, BAD_CAST name);
}

static void autodiscover_end(struct autodiscover_writer *aw)
{
	(void)xmlTextWriterEndElement(aw->w);
}

/* <name>text</name>, escaped; nothing for NULL */
static void autodiscover_elem(struct autodiscover_writer *aw,
			      const char *name, const char *text)
{
	if (text == NULL)
		return;
	(void)xmlTextWriterWriteElement(aw->w, BAD_CAST name, BAD_CAST text);
}

static const char *
autodiscover_schema_ns(enum as_autodiscover_schema schema)
{
	i_assert(schema != AS_AUTODISCOVER_SCHEMA_UNKNOWN);
	return schema == AS_AUTODISCOVER_SCHEMA_OUTLOOK ?
		AS_AUTODISCOVER_NS_OUTLOOK : AS_AUTODISCOVER_NS_MOBILESYNC;
}

static void
autodiscover_write_user(struct autodiscover_writer *aw,
			enum as_autodiscover_schema schema,
			const char *display_name, const char *email)
{
	if (schema == AS_AUTODISCOVER_SCHEMA_MOBILESYNC)
		autodiscover_elem(aw, "Culture", "en:us");
	autodiscover_start(aw, "User");
	autodiscover_elem(aw, "DisplayName", display_name);
	autodiscover_elem(aw, schema == AS_AUTODISCOVER_SCHEMA_OUTLOOK ?
			  "AutoDiscoverSMTPAddress" : "EMailAddress", email);
	autodiscover_end(aw);
}

static void
autodiscover_write_protocol(struct autodiscover_writer *aw, const char *type,
			    const char *host, unsigned int port,
			    const char *login)
{
	autodiscover_start(aw, "Protocol");
	autodiscover_elem(aw, "Type", type);
	autodiscover_elem(aw, "Server", host);
	autodiscover_elem(aw, "Port", dec2str(port));
	autodiscover_elem(aw, "LoginName", login);
	autodiscover_elem(aw, "DomainRequired", "off");
	autodiscover_elem(aw, "SPA", "off");
	/* implicit TLS on 993/465, STARTTLS elsewhere (587, 143) */
	if (port == 993 || port == 465)
		autodiscover_elem(aw, "SSL", "on");
	else
		autodiscover_elem(aw, "Encryption", "TLS");
	autodiscover_elem(aw, "AuthRequired", "on");
	if (strcmp(type, "SMTP") == 0)
		autodiscover_elem(aw, "UsePOPAuth", "on");
	autodiscover_end(aw);
}

void as_autodiscover_write_settings(string_t *dest,
				    enum as_autodiscover_schema schema,
				    const struct as_autodiscover_settings *set)
{
	struct autodiscover_writer aw;

	autodiscover_writer_init(&aw, autodiscover_schema_ns(schema));
	autodiscover_write_user(&aw, schema, set->display_name, set->email);
	if (schema == AS_AUTODISCOVER_SCHEMA_MOBILESYNC) {
		autodiscover_start(&aw, "Action");
		autodiscover_start(&aw, "Settings");
		autodiscover_start(&aw, "Server");
		autodiscover_elem(&aw, "Type", "MobileSync");
		autodiscover_elem(&aw, "Url", set->url);
		autodiscover_elem(&aw, "Name", set->url);
		autodiscover_end(&aw);
		autodiscover_end(&aw);
		autodiscover_end(&aw);
	} else {
		autodiscover_start(&aw, "Account");
		autodiscover_elem(&aw, "AccountType", "email");
		autodiscover_elem(&aw, "Action", "settings");
		if (set->imap_port != 0) {
			autodiscover_write_protocol(&aw, "IMAP", set->imap_host,
						    set->imap_port,
						    set->email);
		}
		if (set->smtp_port != 0) {
			autodiscover_write_protocol(&aw, "SMTP", set->smtp_host,
						    set->smtp_port,
						    set->email);
		}
		autodiscover_end(&aw);
	}
	autodiscover_writer_finish(&aw, dest);
}

void as_autodiscover_write_redirect(string_t *dest,
				    enum as_autodiscover_schema schema,
				    const char *email, const char *redirect_to)
{
	struct autodiscover_writer aw;

	autodiscover_writer_init(&aw, autodiscover_schema_ns(schema));
	autodiscover_write_user(&aw, schema, NULL, email);
	if (schema == AS_AUTODISCOVER_SCHEMA_MOBILESYNC) {
		autodiscover_start(&aw, "Action");
		autodiscover_elem(&aw, "Redirect", redirect_to);
		autodiscover_end(&aw);
	} else {
		autodiscover_start(&aw, "Account");
		autodiscover_elem(&aw, "AccountType", "email");
		autodiscover_elem(&aw, "Action", "redirectAddr");
		autodiscover_elem(&aw, "RedirectAddr", redirect_to);
		autodiscover_end(&aw);
	}
	autodiscover_writer_finish(&aw, dest);
}

void as_autodiscover_write_error(string_t *dest, unsigned int error_code,
				 const char *message)
{
	struct autodiscover_writer aw;
	const struct tm *tm = gmtime(&ioloop_time);

	autodiscover_writer_init(&aw, NULL);
	autodiscover_start(&aw, "Error");
	(void)xmlTextWriterWriteAttribute(aw.w, BAD_CAST "Time", BAD_CAST
		t_strdup_printf("%02d:%02d:%02d", tm->tm_hour, tm->tm_min,
				tm->tm_sec));
	(void)xmlTextWriterWriteAttribute(aw.w, BAD_CAST "Id",
		BAD_CAST dec2str((unsigned int)ioloop_timeval.tv_usec));
	autodiscover_elem(&aw, "ErrorCode", dec2str(error_code));
	autodiscover_elem(&aw, "Message", message);
	(void)xmlTextWriterWriteElement(aw.w, BAD_CAST "DebugData",
					BAD_CAST "");
	autodiscover_end(&aw);
	autodiscover_writer_finish(&aw, dest);
}
