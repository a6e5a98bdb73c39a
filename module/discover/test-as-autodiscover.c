/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "test-common.h"
#include "discover/as-autodiscover.h"

#include <libxml/parser.h>

#define REQ_NS "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"

static const char *request_xml(const char *email, const char *schema)
{
	return t_strdup_printf(
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
		"<Autodiscover xmlns=\"%s\">\r\n<Request>\r\n"
		"<EMailAddress>%s</EMailAddress>\r\n"
		"<AcceptableResponseSchema>%s</AcceptableResponseSchema>\r\n"
		"</Request>\r\n</Autodiscover>\r\n", REQ_NS, email, schema);
}

static int parse_str(const char *xml, struct as_autodiscover_request *req_r,
		     const char **error_r)
{
	return as_autodiscover_parse(xml, strlen(xml), req_r, error_r);
}

static void test_autodiscover_parse(void)
{
	struct as_autodiscover_request req;
	const char *error = NULL;

	test_begin("autodiscover: requests");
	test_assert(parse_str(request_xml(" ann@example.com ",
					  AS_AUTODISCOVER_NS_MOBILESYNC),
			      &req, &error) == 0);
	test_assert_strcmp(req.email, "ann@example.com");
	test_assert(req.schema == AS_AUTODISCOVER_SCHEMA_MOBILESYNC);
	test_assert(parse_str(request_xml("ann@example.com",
					  AS_AUTODISCOVER_NS_OUTLOOK),
			      &req, &error) == 0);
	test_assert(req.schema == AS_AUTODISCOVER_SCHEMA_OUTLOOK);
	test_assert(parse_str(request_xml("ann@example.com", "urn:other"),
			      &req, &error) == 0);
	test_assert(req.schema == AS_AUTODISCOVER_SCHEMA_UNKNOWN);
	test_assert_strcmp(req.schema_name, "urn:other");
	/* comments and CDATA are fine */
	test_assert(parse_str("<Autodiscover><!-- hi --><Request>"
			      "<EMailAddress><![CDATA[b@example.com]]>"
			      "</EMailAddress><AcceptableResponseSchema>"
			      AS_AUTODISCOVER_NS_MOBILESYNC
			      "</AcceptableResponseSchema></Request>"
			      "</Autodiscover>", &req, &error) == 0);
	test_assert_strcmp(req.email, "b@example.com");
	test_end();

	test_begin("autodiscover: bad requests");
	test_assert(parse_str("", &req, &error) < 0);
	test_assert(parse_str("<Autodiscover><Request>", &req, &error) < 0 &&
		    strstr(error, "well-formed") != NULL);
	test_assert(parse_str("<Other/>", &req, &error) < 0);
	test_assert(parse_str("<Autodiscover/>", &req, &error) < 0 &&
		    strstr(error, "Request") != NULL);
	test_assert(parse_str(request_xml("", AS_AUTODISCOVER_NS_MOBILESYNC),
			      &req, &error) < 0 &&
		    strstr(error, "EMailAddress") != NULL);
	test_assert(parse_str("<Autodiscover><Request><EMailAddress>a@b"
			      "</EMailAddress></Request></Autodiscover>",
			      &req, &error) < 0 &&
		    strstr(error, "AcceptableResponseSchema") != NULL);
	/* entities: refused before the parser sees them */
	test_assert(parse_str("<?xml version=\"1.0\"?>\n<!DOCTYPE x [\n"
			      "<!ENTITY a \"aaaaaaaaaa\">\n"
			      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
			      "]>\n<Autodiscover><Request><EMailAddress>&b;"
			      "</EMailAddress></Request></Autodiscover>",
			      &req, &error) < 0 &&
		    strstr(error, "DOCTYPE") != NULL);
	test_assert(parse_str("<!DOCTYPE x SYSTEM \"file:///etc/passwd\">"
			      "<Autodiscover/>", &req, &error) < 0);
	/* too deep, too big */
	{
		string_t *str = t_str_new(1024);
		unsigned int i;

		str_append(str, "<Autodiscover><Request>");
		for (i = 0; i < 20; i++)
			str_append(str, "<a>");
		for (i = 0; i < 20; i++)
			str_append(str, "</a>");
		str_append(str, "</Request></Autodiscover>");
		test_assert(parse_str(str_c(str), &req, &error) < 0 &&
			    strstr(error, "deep") != NULL);
		str_truncate(str, 0);
		str_append(str, "<Autodiscover><!--");
		for (i = 0; i < AS_AUTODISCOVER_MAX_REQUEST_SIZE; i++)
			str_append_c(str, 'x');
		str_append(str, "--></Autodiscover>");
		test_assert(parse_str(str_c(str), &req, &error) < 0 &&
			    strstr(error, "bytes") != NULL);
	}
	test_end();
}

/* the response parses, and holds what it should */
static xmlDoc *parse_response(const string_t *str)
{
	return xmlReadMemory((const char *)str_data(str), str_len(str), NULL, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR);
}

static void test_autodiscover_responses(void)
{
	struct as_autodiscover_settings set = {
		.display_name = "Ann <& Co>",
		.email = "ann@example.com",
		.url = "https://mail.example.com/Microsoft-Server-ActiveSync",
		.imap_host = "mail.example.com",
		.smtp_host = "mail.example.com",
		.imap_port = 993,
		.smtp_port = 587,
	};
	string_t *str = t_str_new(1024);
	xmlDoc *doc;

	test_begin("autodiscover: responses");
	as_autodiscover_write_settings(str, AS_AUTODISCOVER_SCHEMA_MOBILESYNC,
				       &set);
	doc = parse_response(str);
	test_assert(doc != NULL);
	xmlFreeDoc(doc);
	test_assert(strstr(str_c(str), "<Type>MobileSync</Type>") != NULL);
	test_assert(strstr(str_c(str), "<Url>https://mail.example.com/"
			   "Microsoft-Server-ActiveSync</Url>") != NULL);
	test_assert(strstr(str_c(str), "Ann &lt;&amp; Co&gt;") != NULL);
	test_assert(strstr(str_c(str), "xmlns=\""
			   AS_AUTODISCOVER_NS_MOBILESYNC "\"") != NULL);

	str_truncate(str, 0);
	as_autodiscover_write_settings(str, AS_AUTODISCOVER_SCHEMA_OUTLOOK,
				       &set);
	doc = parse_response(str);
	test_assert(doc != NULL);
	xmlFreeDoc(doc);
	test_assert(strstr(str_c(str), "<Type>IMAP</Type>") != NULL);
	test_assert(strstr(str_c(str), "<Port>993</Port>") != NULL);
	test_assert(strstr(str_c(str), "<SSL>on</SSL>") != NULL);
	test_assert(strstr(str_c(str), "<Port>587</Port>") != NULL);
	test_assert(strstr(str_c(str), "<Encryption>TLS</Encryption>") != NULL);

	str_truncate(str, 0);
	as_autodiscover_write_redirect(str, AS_AUTODISCOVER_SCHEMA_MOBILESYNC,
				       "ann@old.example", "ann@example.com");
	test_assert(strstr(str_c(str),
			   "<Redirect>ann@example.com</Redirect>") != NULL);

	str_truncate(str, 0);
	as_autodiscover_write_error(str, 600, "Invalid Request");
	doc = parse_response(str);
	test_assert(doc != NULL);
	xmlFreeDoc(doc);
	test_assert(strstr(str_c(str), "<ErrorCode>600</ErrorCode>") != NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_autodiscover_parse,
		test_autodiscover_responses,
		NULL
	};
	int ret;

	ret = test_run(test_functions);
	xmlCleanupParser();
	return ret;
}
