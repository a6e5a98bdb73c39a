#ifndef AS_AUTODISCOVER_H
#define AS_AUTODISCOVER_H

/* Autodiscover (MS-ASCMD 2.2.1.1, and the Outlook "POX" schema): the
   request and response documents. Plain XML, not WBXML, read and written
   with libxml2. The HTTP side is in as-autodiscover-request.c. */

#define AS_AUTODISCOVER_PATH "/autodiscover/autodiscover.xml"
/* A request is a few hundred bytes; anything near this is not one */
#define AS_AUTODISCOVER_MAX_REQUEST_SIZE (16 * 1024)

#define AS_AUTODISCOVER_NS_RESPONSE \
	"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define AS_AUTODISCOVER_NS_MOBILESYNC \
	"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
#define AS_AUTODISCOVER_NS_OUTLOOK \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

enum as_autodiscover_schema {
	/* phones: the EAS URL */
	AS_AUTODISCOVER_SCHEMA_MOBILESYNC,
	/* Outlook on the desktop: IMAP and SMTP (it speaks EAS only to
	   Microsoft's own service) */
	AS_AUTODISCOVER_SCHEMA_OUTLOOK,
	/* a schema nobody here provides (ErrorCode 601) */
	AS_AUTODISCOVER_SCHEMA_UNKNOWN,
};

struct as_autodiscover_request {
	const char *email;	/* EMailAddress, NULL if absent */
	enum as_autodiscover_schema schema;
	const char *schema_name; /* as sent, NULL if absent */
};

/* Parse a request body (from the data stack). A DOCTYPE (entities) is
   refused before libxml2 sees it, so nothing external is loaded and
   nothing expands. Returns 0, or -1 with error_r (answer 600). */
int as_autodiscover_parse(const void *data, size_t size,
			  struct as_autodiscover_request *req_r,
			  const char **error_r);

struct as_autodiscover_settings {
	const char *display_name;	/* NULL = none */
	const char *email;
	/* the EAS endpoint, e.g. https://mail.example.com/Microsoft-Server-ActiveSync */
	const char *url;
	/* Outlook schema: the servers, 0 port = not announced */
	const char *imap_host, *smtp_host;
	unsigned int imap_port, smtp_port;
};

/* The documents, appended to dest */
void as_autodiscover_write_settings(string_t *dest,
				    enum as_autodiscover_schema schema,
				    const struct as_autodiscover_settings *set);
/* Ask the client to autodiscover again for another address (its domain
   says where) */
void as_autodiscover_write_redirect(string_t *dest,
				    enum as_autodiscover_schema schema,
				    const char *email, const char *redirect_to);
/* The service-level error: 600 invalid request, 601 no provider for the
   schema asked for */
void as_autodiscover_write_error(string_t *dest, unsigned int error_code,
				 const char *message);

#endif
