/* Name tables for the EAS code pages, generated from wbxml-codepages.def */

#include "lib.h"
#include "wbxml.h"

#define WBXML_TOKENS_PER_PAGE 64

static const char *const page_names[WBXML_PAGE_COUNT] = {
#define EAS_PAGE(num, pagename, xmlns) [num] = xmlns,
#define EAS_TAG_DEF(page, pagename, token, name, str)
#include "wbxml-codepages.def"
#undef EAS_TAG_DEF
#undef EAS_PAGE
};

static const char *const tag_names[WBXML_PAGE_COUNT][WBXML_TOKENS_PER_PAGE] = {
#define EAS_PAGE(num, pagename, xmlns)
#define EAS_TAG_DEF(page, pagename, token, name, str) [page][token] = str,
#include "wbxml-codepages.def"
#undef EAS_TAG_DEF
#undef EAS_PAGE
};

/* Elements whose content is binary; XML renderings show them as base64.
   Same set as libwbxml2's WBXML_TAG_OPTION_BINARY for ActiveSync, so that
   XML documents mean the same thing to both tool sets. */
static const unsigned int binary_tags[] = {
	EAS_RESOLVERECIPIENTS_DATA,
	EAS_SEARCH_CONVERSATIONID,
	EAS_GAL_DATA,
	EAS_AIRSYNCBASE_CONTENT,
	EAS_ITEMOPERATIONS_CONVERSATIONID,
	EAS_COMPOSEMAIL_MIME,
	EAS_EMAIL2_CONVERSATIONID,
	EAS_EMAIL2_CONVERSATIONINDEX,
};

const char *wbxml_tag_name(unsigned int tag)
{
	unsigned int page = tag >> 8, token = tag & 0xff;

	if (page >= WBXML_PAGE_COUNT || token >= WBXML_TOKENS_PER_PAGE)
		return NULL;
	return tag_names[page][token];
}

const char *wbxml_page_name(unsigned int page)
{
	if (page >= WBXML_PAGE_COUNT)
		return NULL;
	return page_names[page];
}

int wbxml_page_lookup(const char *page_name)
{
	size_t len = strlen(page_name);
	unsigned int page;

	if (len > 0 && page_name[len-1] == ':')
		len--;
	for (page = 0; page < WBXML_PAGE_COUNT; page++) {
		if (strlen(page_names[page]) == len &&
		    strncasecmp(page_names[page], page_name, len) == 0)
			return (int)page;
	}
	return -1;
}

unsigned int wbxml_tag_lookup(const char *page_name, const char *name)
{
	unsigned int token;
	int page;

	page = wbxml_page_lookup(page_name);
	if (page < 0)
		return EAS_TAG_INVALID;
	for (token = 0; token < WBXML_TOKENS_PER_PAGE; token++) {
		const char *tag_name = tag_names[page][token];

		if (tag_name != NULL && strcmp(tag_name, name) == 0)
			return EAS_TAG(page, token);
	}
	return EAS_TAG_INVALID;
}

const char *wbxml_tag_describe(unsigned int tag)
{
	const char *name = wbxml_tag_name(tag);

	if (name == NULL)
		return t_strdup_printf("0x%04x", tag);
	return t_strconcat(page_names[tag >> 8], ":", name, NULL);
}

bool wbxml_tag_is_binary(unsigned int tag)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(binary_tags); i++) {
		if (binary_tags[i] == tag)
			return TRUE;
	}
	return FALSE;
}
